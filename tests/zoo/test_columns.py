"""COLUMNS.md, the public row's contract, and the code that writes the row stay in step."""

import re
from pathlib import Path

from zoo.columns import CONTRACT_COLUMNS

CONTRACT = Path(__file__).resolve().parents[2] / "COLUMNS.md"
TYPES = {"int": int, "float": float, "str": str, "enum": str, "bool": bool}


def _documented() -> list[tuple[str, str | None]]:
    """(column, type or None) for every row of every table in COLUMNS.md, in order."""
    rows = []
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and re.fullmatch(r"[a-z_]+", cells[0]) and cells[0] != "column":
            rows.append((cells[0], cells[1] if len(cells) == 3 and cells[1] in TYPES else None))
    return rows


def test_the_contract_names_exactly_the_columns_in_their_order():
    assert [name for name, _ in _documented()] == list(CONTRACT_COLUMNS)


def test_documented_types_are_the_column_types():
    typed = [(name, kind) for name, kind in _documented() if kind is not None]
    assert len(typed) > 40
    assert all(CONTRACT_COLUMNS[name] is TYPES[kind] for name, kind in typed), [
        name for name, kind in typed if CONTRACT_COLUMNS[name] is not TYPES[kind]]
