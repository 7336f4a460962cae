"""Side-by-side comparison of a few models: every public column, and which of them differ."""

from __future__ import annotations

import pandas as pd

from dashboard.model_fields import present, readable
from zoo.columns import CONTRACT_COLUMNS
from zoo.labels import label

# Pairs that each isolate a few of the choices the Trends page follows: (button title, record keys).
SUGGESTIONS = (
    ("2017 → 2023: Transformer vs LLaMA 2", ("transformer-big", "llama-2-7b")),
    ("GPT-2 vs GPT-3: scale alone", ("gpt2-xl", "gpt3-175b")),
    ("Mistral vs Mixtral: dense vs experts", ("mistral-7b", "mixtral-8x7b")),
    ("LLaMA 2 vs LLaMA 3: GQA, vocabulary", ("llama-2-7b", "llama-3-8b")),
    ("Gemma 2 vs Gemma 3: local/global", ("gemma-2-27b", "gemma-3-27b")),
)

# Shown as the column headers or as links elsewhere, so not compared as fields.
NOT_COMPARED = ("key", "name", "sources")
COMPARED_FIELDS = [name for name in CONTRACT_COLUMNS if name not in NOT_COMPARED]


def comparison_table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per compared field, one column per model (headed by its name), cells as readable text."""
    rows = frame.set_index("key").loc[keys]
    table = pd.DataFrame({rows.loc[key, "name"]: [_cell(field, present(rows.loc[key, field]))
                                                  for field in COMPARED_FIELDS] for key in keys}, index=COMPARED_FIELDS)
    table.index.name = "field"
    return table


def _cell(field: str, value) -> str:
    """A readable cell: labelled categories, numbers with thousands separators (years and ratios as they are)."""
    if isinstance(value, str):
        return label(field, value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and field != "year":
        return f"{int(value):,}"
    return readable(value)


def differing(table: pd.DataFrame) -> pd.Series:
    """True for the fields whose values are not the same for every compared model."""
    return table.nunique(axis=1) > 1


def highlight_against_first(table: pd.DataFrame) -> pd.DataFrame:
    """CSS per cell: cells that differ from the first model's value are highlighted."""
    first = table.iloc[:, 0]
    style = "background-color: rgba(255, 196, 0, 0.30); font-weight: 600"
    return pd.DataFrame({column: [style if value != base else "" for value, base in zip(table[column], first)]
                         for column in table.columns}, index=table.index)
