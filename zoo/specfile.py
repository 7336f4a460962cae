"""Reading spec files: TOML on disk to a validated ModelRecord, or one line per problem."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from zoo.errors import ZooError, printable
from zoo.schema import ModelRecord


class SpecError(ZooError):
    """One or more problems with spec documents; each problem is one printable line naming its file."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))

    def lines(self) -> list[str]:
        return self.problems


def describe_validation_error(error: ValidationError, origin: str) -> list[str]:
    """One line per pydantic error: `origin: field: rule`."""
    lines = []
    for item in error.errors():
        location = ".".join(printable(str(part)) for part in item["loc"]) or "(record)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (not part of the schema)"
        elif item["type"] == "missing":
            message = "required field is missing"
        lines.append(f"{origin}: {location}: {printable(message)}")
    return lines


def parse_record(document: dict, origin: str = "<spec>") -> ModelRecord:
    """Validate a spec document (the parsed TOML); raise SpecError with readable lines."""
    if not isinstance(document, dict):
        raise SpecError([f"{origin}: (record): a spec document must be a table, got {type(document).__name__}"])
    try:
        return ModelRecord.model_validate(document)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error, origin)) from None


def load_spec(path: str | Path) -> ModelRecord:
    """Read and validate one spec file; its name must equal its key."""
    path = Path(path)
    if not path.is_file():  # a folder, a dangling link or a FIFO (which would block the read) named *.toml
        what = "no such file" if not path.exists() and not path.is_symlink() else "not a regular file"
        raise SpecError([f"{path}: (file): {what}"])
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SpecError([f"{path}: (file): malformed TOML: {printable(str(error))}"]) from None
    except RecursionError:
        raise SpecError([f"{path}: (file): tables or arrays nested too deeply to be a spec"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError([f"{path}: (file): cannot read: {printable(str(error))}"]) from None
    record = parse_record(document, str(path))
    if record.key != path.stem:
        raise SpecError([f"{path}: key: must equal the file name '{printable(path.stem)}', got '{record.key}'"])
    return record


def load_specs(paths: Iterable[str | Path]) -> list[ModelRecord]:
    """Load many spec files, collecting every problem (and duplicate keys) before raising."""
    records, problems, seen = [], [], {}
    for path in paths:
        try:
            record = load_spec(path)
        except SpecError as error:
            problems.extend(error.problems)
            continue
        if record.key in seen:
            problems.append(f"{path}: key: duplicate key '{record.key}', also in {seen[record.key]}")
            continue
        seen[record.key] = path
        records.append(record)
    if problems:
        raise SpecError(problems)
    return records


def specs_dir() -> Path:
    """The bundled spec directory: `specs/` in a source checkout, `zoo/specs` in an installed wheel."""
    package = Path(__file__).resolve().parent
    checkout = package.parent / "specs"
    return checkout if checkout.is_dir() else package / "specs"


def spec_paths(directory: Path | None = None) -> list[Path]:
    return sorted((directory or specs_dir()).glob("*.toml"))
