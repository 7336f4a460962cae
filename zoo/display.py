"""How the command line shows values and tables: one number format, and tables that fit the terminal.

Numbers below a million print whole (4096, 2023), with thousands separators from ten thousand (32,000;
500,000), or with four significant digits (0.02, 1e-05); from a million up, three significant digits and a
unit (213M, 6.74B, 1.4T). The dashboard writes numbers the same way.
Tables are drawn by rich at the terminal's width (COLUMNS where set; unlimited when output goes to a file
or pipe): columns that do not fit are dropped from the right and named in a note on stderr, never wrapped
mid-value.
"""

from __future__ import annotations

from collections.abc import Sequence
import os
import sys

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from zoo.errors import printable

_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"))
_GAP = 2  # spaces between columns


def format_number(value: int | float) -> str:
    """One spelling for every number the CLI prints (see the module docstring)."""
    magnitude = abs(value)
    for scale, unit in _UNITS:
        if magnitude >= scale:
            return f"{value / scale:.3g}{unit}"
    if float(value).is_integer() or magnitude >= 1000:
        whole = round(value)
        return f"{whole:,}" if magnitude >= 10_000 else str(whole)
    return f"{value:.4g}"


def format_value(value) -> str:
    """A table cell: numbers by format_number, booleans yes/no, missing as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)


UNLIMITED = 10_000


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr) at the terminal's width; unlimited for a file or pipe."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else UNLIMITED
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def fit_columns(cells: list[list[str]], columns: Sequence[str], width: int) -> list[int]:
    """Indices of the leading columns whose widest cell (or header) fits in `width` (at least the first)."""
    kept, used = [], 0
    for index, name in enumerate(columns):
        needed = max(len(name), *(len(row[index]) for row in cells)) if cells else len(name)
        if kept and used + _GAP + needed > width:
            break
        kept.append(index)
        used += needed + (_GAP if kept[1:] else 0)
    return kept


def print_table(rows: list[list[str]], columns: Sequence[str], *, numeric: Sequence[bool] = (),
                out: Console | None = None) -> None:
    """Rows of cell strings under their column names, cut to the console's width with a note (on stderr) on
    what was left out."""
    out = out or console()
    cells = [[printable(cell) for cell in row] for row in rows]
    kept = fit_columns(cells, columns, out.width)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for index in kept:
        right = index < len(numeric) and numeric[index]
        table.add_column(columns[index], justify="right" if right else "left", no_wrap=True, overflow="ellipsis")
    for row in cells:
        table.add_row(*(Text(row[index]) for index in kept))
    out.print(table)
    hidden = [columns[index] for index in range(len(columns)) if index not in kept]
    if hidden:
        print(f"({len(hidden)} column(s) left out to fit {out.width} characters: {', '.join(hidden)}; "
              "pick them with --columns or widen the terminal)", file=sys.stderr)
