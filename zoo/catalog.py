"""The SQLite catalog: validated specs flattened into typed rows, plus stored benchmark results.

The spec files are the source of truth; the database is a build product that `Catalog()`
rebuilds whenever the specs (or the code that flattens them) change. A rebuild writes a new
file beside the old one, carries the benchmark rows across (through explicit migrations when
their schema changed, never by dropping a value) and swaps it in atomically, so a reader sees
either the old or the new catalog and no stored result is lost. Every session opens the file
anew, so a handle kept open across a rebuild reads and writes the catalog that replaced it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import sqlite3
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import ValidationError
from sqlalchemy import JSON, Column
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel, create_engine, select

from zoo.columns import CONTRACT_COLUMNS, accounting, flatten
from zoo.errors import ZooError, did_you_mean
from zoo.labels import LABELS, match_value
from zoo.schema import ModelRecord
from zoo.specfile import SpecError, load_specs, spec_paths, specs_dir

CATALOG_ENV = "ARCHZOO_DB"


class CatalogError(ZooError):
    """The catalog cannot be opened, built or queried as asked."""


def _column_field(name: str, kind: type):
    if name == "key":
        return (str, Field(primary_key=True))
    if kind is list:
        return (list, Field(default_factory=list, sa_column=Column(JSON)))
    return (kind | None, Field(default=None, index=name in {"year", "family", "organization", "arch"}))


_CONTRACT_FIELDS = {name: _column_field(name, kind) for name, kind in CONTRACT_COLUMNS.items()}


class ModelRow(SQLModel, table=True):
    """One catalogued checkpoint: the contract columns (declared from CONTRACT_COLUMNS) plus the spec as JSON."""

    __tablename__ = "models"
    __annotations__ = {name: kind for name, (kind, _) in _CONTRACT_FIELDS.items()} | {"spec_json": str}
    locals().update({name: field for name, (_, field) in _CONTRACT_FIELDS.items()})


class SourceRow(SQLModel, table=True):
    """A paper, config or code reference of one record."""

    __tablename__ = "sources"
    id: int | None = Field(default=None, primary_key=True)
    model_key: str = Field(index=True, foreign_key="models.key")
    url: str
    kind: str
    title: str


class BenchmarkRow(SQLModel, table=True):
    """One measured run of an architecture; survives every rebuild of the model rows."""

    __tablename__ = "benchmarks"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True)  # the catalogued record the architecture comes from
    spec_json: str  # the exact architecture timed (proxy and overrides included)
    variant: str = ""  # e.g. "scale=1b", "norm_position=post"
    mode: str  # forward | train | decode
    batch: int
    seq: int
    dtype: str
    compiled: bool = False
    world_size: int = 1  # ranks the step ran on
    sharding: str = "none"  # how the ranks split the model: fsdp, fsdp+tp2, tp2, with +ckpt for checkpointing
    device: str
    device_name: str = ""
    torch_version: str
    created_at: str
    tokens_per_s: float | None = None
    step_time_median_s: float | None = None
    step_time_iqr_s: float | None = None
    flops_per_token: float | None = None
    achieved_flops_per_s: float | None = None
    mfu: float | None = None
    peak_memory_bytes: int | None = None
    kv_cache_bytes_per_token: int | None = None
    kv_cache_bytes_per_token_measured: int | None = None
    details: dict = Field(default_factory=dict, sa_column=Column(JSON))  # backends per layer, iterations, ...


class MetaRow(SQLModel, table=True):
    """Build facts: the fingerprint of the specs and code the model rows were made from."""

    __tablename__ = "meta"
    name: str = Field(primary_key=True)
    value: str


# The modules whose code decides what a row holds: a change to any of them rebuilds the catalog.
_FINGERPRINT_CODE = ("schema.py", "plan.py", "accounting.py", "columns.py", "catalog.py")


def specs_fingerprint(directory: Path | None = None) -> str:
    """Hash of every spec file and of the code that turns them into rows."""
    digest = hashlib.sha256()
    for path in spec_paths(directory):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    here = Path(__file__).resolve().parent
    for name in _FINGERPRINT_CODE:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def default_path() -> Path:
    """$ARCHZOO_DB if set, else catalog.sqlite in the user's data folder (the platform's convention:
    ~/.local/share/archzoo or $XDG_DATA_HOME/archzoo on Linux, ~/Library/Application Support/archzoo on macOS,
    %LOCALAPPDATA%\\archzoo on Windows); never inside the source tree or an installed package."""
    if os.environ.get(CATALOG_ENV):
        return Path(os.environ[CATALOG_ENV]).expanduser()
    return _user_data_path()


def _user_data_path() -> Path:
    return Path(platformdirs.user_data_dir("archzoo", appauthor=False)) / "catalog.sqlite"


# The layout of the benchmarks table; a file without a version was written under version 1.
BENCHMARK_SCHEMA = 2
# Version N -> a function turning one row stored under version N into a row of version N + 1 (renamed,
# split or defaulted columns). A rebuild refuses to drop any column that no migration carries.
BENCHMARK_MIGRATIONS: dict[int, Callable[[dict], dict]] = {
    1: lambda row: {**row, "world_size": 1, "sharding": "none"},  # rows before sharded runs ran on one process
}


def _folder(path: Path) -> None:
    """The catalog's folder: made in the user's data folder, required to exist anywhere a user names."""
    if path == _user_data_path():
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise CatalogError(f"{path}: folder {path.parent} does not exist; create it or pick another --db")


def _engine(path: Path):
    """An engine that opens the file anew for every session (no pooled connection to a replaced file)."""
    return create_engine(f"sqlite:///{path}", poolclass=NullPool)


def _readable_by_others(path: Path) -> None:
    """mkstemp creates 0600; a catalog gets the permissions the user's umask gives new files."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Serialise writers (rebuilds and benchmark inserts) across processes, and keep readers out meanwhile."""
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _shared(path: Path) -> Iterator[None]:
    """Readers share the lock, so none is mid-read when a rebuild swaps the file or while a writer's journal
    exists (SQLite finds journals by path: a reader of the replaced file would take a writer's journal of the
    new one for its own). A catalog in a folder nobody can write to has no writers, and no lock is needed."""
    try:
        handle = open(path.with_name(path.name + ".lock"), "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _rows_for(record: ModelRecord) -> tuple[ModelRow, list[SourceRow]]:
    row = ModelRow(**flatten(record, accounting(record)), spec_json=record.model_dump_json())
    sources = [SourceRow(model_key=record.key, url=s.url, kind=s.kind.value, title=s.title) for s in record.sources]
    return row, sources


def build_catalog(path: Path, directory: Path | None = None) -> int:
    """Validate every spec, then write a fresh catalog at `path`, keeping its benchmark rows.

    Nothing is written when any spec is invalid: SpecError lists every problem.
    """
    directory = directory or specs_dir()
    paths = spec_paths(directory)
    if not paths:
        raise CatalogError(f"{directory}: no spec files (*.toml) to build the catalog from")
    fingerprint = specs_fingerprint(directory)
    records = load_specs(paths)
    path = Path(path)
    _folder(path)
    try:
        with _exclusive(path):
            _build(path, records, fingerprint)
    except (OSError, sqlite3.Error, SQLAlchemyError) as error:
        raise CatalogError(f"{path}: cannot write the catalog ({_reason(error)}); the catalog was left as it was") from None
    return len(records)


def _reason(error: BaseException) -> str:
    """An error's own words, one line (SQLAlchemy wraps the driver's)."""
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__


def _build(path: Path, records: list[ModelRecord], fingerprint: str) -> None:
    """Write the new file beside the old one, carry the benchmark rows, swap it in (under the writers' lock)."""
    for leftover in path.parent.glob(path.name + ".*.building"):  # from a build that was killed
        leftover.unlink(missing_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".building", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        _readable_by_others(temp)
        engine = _engine(temp)
        try:
            SQLModel.metadata.create_all(engine)
            with Session(engine) as session:
                for record in records:
                    row, sources = _rows_for(record)
                    session.add(row)
                    session.add_all(sources)
                session.add(MetaRow(name="fingerprint", value=fingerprint))
                session.add(MetaRow(name="benchmark_schema", value=str(BENCHMARK_SCHEMA)))
                session.add(MetaRow(name="built_at", value=dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
                session.commit()
        finally:
            engine.dispose()
        if path.exists():
            _copy_benchmarks(path, temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _copy_benchmarks(old: Path, new: Path) -> None:
    """Carry every stored benchmark row into the new file, migrated to this schema; refuse to lose a value."""
    connection = sqlite3.connect(new)
    connection.row_factory = sqlite3.Row
    try:
        connection.execute("ATTACH DATABASE ? AS old", (str(old),))
        tables = {r[0] for r in connection.execute("SELECT name FROM old.sqlite_master WHERE type='table'")}
        if "benchmarks" in tables:
            version = 1
            if "meta" in tables:
                found = connection.execute("SELECT value FROM old.meta WHERE name='benchmark_schema'").fetchone()
                version = int(found[0]) if found else 1
            columns = [r[1] for r in connection.execute("PRAGMA main.table_info(benchmarks)")]
            for stored in connection.execute("SELECT * FROM old.benchmarks").fetchall():
                row = _migrated(dict(stored), version)
                lost = sorted(set(row) - set(columns))
                if lost:
                    raise CatalogError(f"{old}: stored benchmark rows hold column(s) {', '.join(lost)} that this "
                                       f"version does not know and no migration carries; the catalog was left as it was")
                names = ", ".join(f'"{name}"' for name in row)
                connection.execute(f"INSERT INTO main.benchmarks ({names}) VALUES ({', '.join('?' * len(row))})",
                                   list(row.values()))
        connection.commit()
        connection.execute("DETACH DATABASE old")
    except (sqlite3.DatabaseError, ValueError) as error:
        raise CatalogError(f"{old}: cannot read the stored benchmark rows ({error}); the catalog was left as it was") from None
    finally:
        connection.close()


def _migrated(row: dict, version: int) -> dict:
    if version > BENCHMARK_SCHEMA:
        raise CatalogError(f"benchmark rows were stored by a newer archzoo (schema {version}, this one reads up to "
                           f"{BENCHMARK_SCHEMA}); the catalog was left as it was")
    for step in range(version, BENCHMARK_SCHEMA):
        if step not in BENCHMARK_MIGRATIONS:
            raise CatalogError(f"no migration carries benchmark rows from schema {step} to {step + 1}; "
                               "the catalog was left as it was")
        row = BENCHMARK_MIGRATIONS[step](row)
    return row


def _stored_fingerprint(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        with _shared(path):
            return _read_fingerprint(path)
    except OSError:
        return None


def _read_fingerprint(path: Path) -> str | None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = connection.execute("SELECT value FROM meta WHERE name='fingerprint'").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return None
    return found[0] if found else None


class StaleCatalogWarning(UserWarning):
    """The spec folder has problems, so the last good catalog is served instead of a rebuilt one."""


class Catalog:
    """The queryable catalog. `Catalog()` opens the default database, rebuilding it when stale.

    When the specs changed but a spec is broken, the last good catalog keeps serving and a
    StaleCatalogWarning names the first problem (`zoo validate` lists them all).
    """

    def __init__(self, path: str | Path | None = None, *, specs: str | Path | None = None, rebuild: bool = True):
        self.path = Path(path) if path is not None else default_path()
        _folder(self.path)
        self.specs_dir = Path(specs) if specs is not None else specs_dir()
        if rebuild and self.is_stale():
            try:
                build_catalog(self.path, self.specs_dir)
            except SpecError as error:
                if _stored_fingerprint(self.path) is None:
                    raise
                warnings.warn(StaleCatalogWarning(
                    f"{error.problems[0]} ({len(error.problems)} problem(s) in the specs; `zoo validate` lists "
                    f"them); serving the last good catalog, {self.path}"), stacklevel=2)
        if not self.path.exists():
            raise CatalogError(f"{self.path}: no catalog here; build it with `zoo catalog build --db {self.path}`")
        self.engine = _engine(self.path)

    def is_stale(self) -> bool:
        return not self.path.exists() or _stored_fingerprint(self.path) != specs_fingerprint(self.specs_dir)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A SQLModel session for queries the helpers don't cover; a damaged file is one CatalogError."""
        try:
            with _shared(self.path), Session(self.engine) as session:
                yield session
        except SQLAlchemyError as error:
            raise CatalogError(f"{self.path}: the catalog cannot be read ({_reason(error)}); rebuild it with "
                               f"`zoo catalog build --db {self.path}`") from None

    def _record(self, spec_json: str) -> ModelRecord:
        try:
            return ModelRecord.model_validate_json(spec_json)
        except ValidationError as error:
            raise CatalogError(f"{self.path}: a stored record is damaged ({error.errors()[0]['msg']}); rebuild it "
                               f"with `zoo catalog build --db {self.path}`") from None

    def check_writable(self) -> None:
        """Refuse before any work (a benchmark, say) whose result could not be stored here."""
        try:
            with _exclusive(self.path):
                connection = sqlite3.connect(self.path)
                try:  # a real write, rolled back: it needs the file and its journal beside it
                    connection.execute("BEGIN IMMEDIATE")
                    connection.execute("INSERT INTO meta (name, value) VALUES ('write_probe', '')")
                    connection.rollback()
                finally:
                    connection.close()
        except (OSError, sqlite3.Error) as error:
            raise CatalogError(f"{self.path}: results cannot be stored here ({_reason(error)})") from None

    def keys(self) -> list[str]:
        with self.session() as s:
            return list(s.exec(select(ModelRow.key).order_by(ModelRow.released, ModelRow.key)))

    def get(self, key: str) -> ModelRecord:
        with self.session() as s:
            row = s.get(ModelRow, key)
        if row is None:
            keys = self.keys()
            raise CatalogError(f"unknown model key '{key}'{did_you_mean(key, keys) or '; known keys: ' + ', '.join(keys)}")
        return self._record(row.spec_json)

    def records(self) -> list[ModelRecord]:
        with self.session() as s:
            rows = s.exec(select(ModelRow).order_by(ModelRow.released, ModelRow.key)).all()
        return [self._record(row.spec_json) for row in rows]

    def where(self, *, year_from: int | None = None, year_to: int | None = None, **equals: Any) -> list[ModelRecord]:
        """Records whose contract columns hold one of the given values, optionally within a year range.

        A value may be a list (any of them matches). Text is read case-insensitively, categorical values in
        their stored spelling or readable label (norm="RMSNorm", attention=["gqa", "MQA"]); a value the
        column cannot hold is a CatalogError naming the values it can.
        """
        statement = select(ModelRow)
        for name, value in equals.items():
            wanted = self.filter_values(name, value if isinstance(value, (list, tuple, set)) else [value])
            statement = statement.where(getattr(ModelRow, name).in_(wanted))
        if year_from is not None:
            statement = statement.where(ModelRow.year >= year_from)
        if year_to is not None:
            statement = statement.where(ModelRow.year <= year_to)
        with self.session() as s:
            rows = s.exec(statement.order_by(ModelRow.released, ModelRow.key)).all()
        return [self._record(row.spec_json) for row in rows]

    def filter_values(self, name: str, values: list) -> list:
        """The stored values that `values` name in column `name` (see where)."""
        if name not in CONTRACT_COLUMNS or name == "sources":
            columns = [c for c in CONTRACT_COLUMNS if c != "sources"]
            raise CatalogError(f"where: unknown column '{name}'{did_you_mean(name, columns)} (columns: {', '.join(columns)})")
        kind = CONTRACT_COLUMNS[name]
        if kind is not str:
            return [_typed(name, kind, value) for value in values]
        if name in LABELS:
            resolve = lambda text: match_value(name, text)  # noqa: E731
            valid = ", ".join(value if text == value else f"{value} ({text})" for value, text in LABELS[name].items())
        else:
            with self.session() as s:
                present = sorted(v for v in s.exec(select(getattr(ModelRow, name)).distinct()) if v is not None)
            known = {value.lower(): value for value in present}
            resolve = lambda text: known.get(text.strip().lower())  # noqa: E731
            valid = ", ".join(present)
        found = []
        for value in values:
            match = resolve(str(value))
            if match is None:
                raise CatalogError(f"where: {name} has no value {str(value)!r}; valid values: {valid}")
            found.append(match)
        return found
    def rows(self) -> list[dict]:
        """Contract rows as plain dicts, ordered by release date."""
        with self.session() as s:
            rows = s.exec(select(ModelRow).order_by(ModelRow.released, ModelRow.key)).all()
        return [{name: getattr(row, name) for name in CONTRACT_COLUMNS} for row in rows]

    def frame(self):
        """pandas DataFrame, one row per model, exactly the contract columns."""
        import pandas as pd

        frame = pd.DataFrame(self.rows(), columns=list(CONTRACT_COLUMNS))
        for name, kind in CONTRACT_COLUMNS.items():
            if kind is int:
                frame[name] = frame[name].astype("Int64")
            elif kind is bool:
                frame[name] = frame[name].astype("boolean")
            elif kind is float:
                frame[name] = frame[name].astype("Float64")
        return frame

    def add_benchmark(self, row: BenchmarkRow) -> BenchmarkRow:
        """Store one benchmark result (validated by the caller); returns it with its id."""
        try:
            with _exclusive(self.path), Session(self.engine) as s:
                s.add(row)
                s.commit()
                s.refresh(row)
        except (OSError, SQLAlchemyError) as error:
            raise CatalogError(f"{self.path}: the result could not be stored ({_reason(error)})") from None
        return row

    def benchmarks(self, key: str | None = None):
        """Stored benchmark rows (all, or of one record) as a DataFrame, newest first."""
        import pandas as pd

        statement = select(BenchmarkRow).order_by(BenchmarkRow.created_at.desc())
        if key is not None:
            statement = statement.where(BenchmarkRow.key == key)
        with self.session() as s:
            rows = [row.model_dump() for row in s.exec(statement).all()]
        return pd.DataFrame(rows, columns=list(BenchmarkRow.model_fields))


def _typed(name: str, kind: type, value: Any) -> Any:
    """A filter value as the column's type ('true' -> True, '2048' -> 2048)."""
    if not isinstance(value, str):
        exact = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if exact or (kind is float and isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise CatalogError(f"where: column '{name}' takes a {kind.__name__}, got {type(value).__name__} {value!r}")
    text = value.strip().lower()
    try:
        if kind is bool:
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text in ("true", "1", "yes")
        return kind(text)
    except ValueError:
        accepted = "true/false or yes/no" if kind is bool else f"a {kind.__name__}"
        raise CatalogError(f"where: column '{name}' takes {accepted}, got '{value}'") from None
