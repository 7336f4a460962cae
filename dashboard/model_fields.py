"""Every field of one record as readable rows, each with where its value comes from."""

from __future__ import annotations

from enum import Enum

import pandas as pd

from dashboard.choices import NOT_PUBLISHED, choice_labels
from zoo import ModelRecord
from zoo.schema import ARCHITECTURE_FIELDS, NESTED_FIELDS, TRAINING_FIELDS


def readable(value) -> str:
    """One cell of text: enums by their spelling, large integers with separators (not years), nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _field_names() -> list[tuple[str, str]]:
    names = [("record", "params_published"), ("record", "params_reference"), ("record", "multilingual")]
    for name in ARCHITECTURE_FIELDS:
        if name in NESTED_FIELDS:
            names += [("architecture", f"{name}.{inner}") for inner in NESTED_FIELDS[name]]
        else:
            names.append(("architecture", name))
    names += [("training", name) for name in TRAINING_FIELDS]
    return names


def field_rows(record: ModelRecord) -> pd.DataFrame:
    """section, field, value and provenance (cited / assumed / unpublished, with the spec's reason)."""
    rows = []
    for section, name in _field_names():
        value = record.multilingual if name == "multilingual" else record.field_value(name)
        if name in record.assumed:
            provenance = f"assumed: {record.assumed[name]}"
        elif name in record.unpublished:
            provenance = f"unpublished: {record.unpublished[name]}"
        elif name in record.citations:
            provenance = record.citations[name]
        else:
            provenance = ""
        rows.append({"section": section, "field": name, "value": readable(value), "provenance": provenance})
    return pd.DataFrame(rows)


def present(value):
    """A frame cell as a plain Python value, or None where it is missing (pandas NA or NaN)."""
    if value is None or pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def parameter_gap(published: int | None, computed: int | None) -> float | None:
    """Relative gap of the computed count to the published one, or None when either is missing."""
    if published is None or computed is None:
        return None
    return (computed - published) / published


def gap_text(gap: float | None) -> str | None:
    """The computed count against the published one: 'matches published' within 0.005%, else a signed %."""
    if gap is None:
        return None
    return "matches published" if abs(gap) < 5e-5 else f"{gap:+.2%} vs published"


def choices_against_year(frame: pd.DataFrame, key: str, choices) -> pd.DataFrame:
    """For each choice: this model's label, and the share of the same year's models that made it, marked
    'consensus' (at least 75%), 'majority', 'minority' or 'alone'."""
    year = frame.loc[frame["key"] == key, "year"].iloc[0]
    same_year = frame[frame["year"] == year]
    rows = []
    for choice in choices:
        labels = choice_labels(same_year, choice)
        mine = labels[same_year["key"] == key].iloc[0]
        if mine == NOT_PUBLISHED:
            rows.append({"choice": choice.title, "this model": mine, f"models of {year}": "—"})
            continue
        known = labels[labels != NOT_PUBLISHED]
        share = (known == mine).sum() / len(known)
        verdict = ("alone" if (known == mine).sum() == 1 and len(known) > 1 else "consensus" if share >= 0.75
                   else "majority" if share > 0.5 else "minority")
        rows.append({"choice": choice.title, "this model": mine,
                     f"models of {year}": f"{share:.0%} of {len(known)} · {verdict}"})
    return pd.DataFrame(rows).set_index("choice")


def build_snippet(key: str) -> str:
    """Python that builds the model with archzoo's builder: full size on the meta device, and a tiny proxy."""
    return (
        "from builder import build, scale\n\n"
        f'model = build("{key}", device="meta")  # full size, allocates no memory\n'
        "print(model.num_params())\n\n"
        f'proxy = build(scale("{key}", "tiny"), device="cpu", seed=0)  # same shape ratios, runs on a CPU\n'
    )
