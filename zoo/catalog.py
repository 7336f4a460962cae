"""The SQLite catalog: validated specs flattened into typed rows, plus stored benchmark results.

The spec files are the source of truth; the database is a build product that `Catalog()`
rebuilds whenever the specs (or the code that flattens them) change. A rebuild writes a new
file beside the old one, carries the benchmark rows across and swaps it in atomically, so a
reader sees either the old or the new catalog and no stored result is lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import JSON, Column
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
    return Path(platformdirs.user_data_dir("archzoo", appauthor=False)) / "catalog.sqlite"


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Serialise writers (rebuilds and benchmark inserts) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
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
    with _exclusive(path):
        handle, temp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".building", dir=path.parent)
        os.close(handle)
        temp = Path(temp_name)
        try:
            engine = create_engine(f"sqlite:///{temp}")
            SQLModel.metadata.create_all(engine)
            with Session(engine) as session:
                for record in records:
                    row, sources = _rows_for(record)
                    session.add(row)
                    session.add_all(sources)
                session.add(MetaRow(name="fingerprint", value=fingerprint))
                session.add(MetaRow(name="built_at", value=dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
                session.commit()
            engine.dispose()
            if path.exists():
                _copy_benchmarks(path, temp)
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    return len(records)


def _copy_benchmarks(old: Path, new: Path) -> None:
    """Carry every stored benchmark row into the new file (columns both files know)."""
    connection = sqlite3.connect(new)
    try:
        connection.execute("ATTACH DATABASE ? AS old", (str(old),))
        tables = {r[0] for r in connection.execute("SELECT name FROM old.sqlite_master WHERE type='table'")}
        if "benchmarks" in tables:
            old_columns = {r[1] for r in connection.execute("PRAGMA old.table_info(benchmarks)")}
            new_columns = [r[1] for r in connection.execute("PRAGMA main.table_info(benchmarks)")]
            shared = ", ".join(f'"{c}"' for c in new_columns if c in old_columns)
            connection.execute(f"INSERT INTO main.benchmarks ({shared}) SELECT {shared} FROM old.benchmarks")
        connection.commit()
        connection.execute("DETACH DATABASE old")
    except sqlite3.DatabaseError as error:
        raise CatalogError(f"{old}: cannot read the stored benchmark rows ({error}); the catalog was left as it was") from None
    finally:
        connection.close()


def _stored_fingerprint(path: Path) -> str | None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = connection.execute("SELECT value FROM meta WHERE name='fingerprint'").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return None
    return found[0] if found else None


class Catalog:
    """The queryable catalog. `Catalog()` opens the default database, rebuilding it when stale."""

    def __init__(self, path: str | Path | None = None, *, specs: str | Path | None = None, rebuild: bool = True):
        self.path = Path(path) if path is not None else default_path()
        self.specs_dir = Path(specs) if specs is not None else specs_dir()
        if rebuild and self.is_stale():
            build_catalog(self.path, self.specs_dir)
        if not self.path.exists():
            raise CatalogError(f"{self.path}: no catalog here; build it with `zoo catalog build --db {self.path}`")
        self.engine = create_engine(f"sqlite:///{self.path}")

    def is_stale(self) -> bool:
        return not self.path.exists() or _stored_fingerprint(self.path) != specs_fingerprint(self.specs_dir)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A SQLModel session for queries the helpers don't cover."""
        with Session(self.engine) as session:
            yield session

    def keys(self) -> list[str]:
        with self.session() as s:
            return list(s.exec(select(ModelRow.key).order_by(ModelRow.released, ModelRow.key)))

    def get(self, key: str) -> ModelRecord:
        with self.session() as s:
            row = s.get(ModelRow, key)
        if row is None:
            keys = self.keys()
            raise CatalogError(f"unknown model key '{key}'{did_you_mean(key, keys) or '; known keys: ' + ', '.join(keys)}")
        return ModelRecord.model_validate_json(row.spec_json)

    def records(self) -> list[ModelRecord]:
        with self.session() as s:
            rows = s.exec(select(ModelRow).order_by(ModelRow.released, ModelRow.key)).all()
        return [ModelRecord.model_validate_json(row.spec_json) for row in rows]

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
        return [ModelRecord.model_validate_json(row.spec_json) for row in rows]

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
        with _exclusive(self.path), Session(self.engine) as s:
            s.add(row)
            s.commit()
            s.refresh(row)
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
        return value
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
