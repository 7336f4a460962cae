"""The categorical architecture choices the Trends page charts, each read from the catalog's columns.

A choice maps one model row to a readable label ("pre-norm", "SwiGLU", "parallel"). A value
the catalog leaves null (unpublished, or hidden because the spec had to assume it) becomes
`NOT_PUBLISHED`, so the charts never guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from zoo.labels import LABELS, label

NOT_PUBLISHED = "not published"


@dataclass(frozen=True)
class Choice:
    """One design decision: its URL/query name, its title, a sentence of context and how to read it off a row."""

    name: str
    title: str
    story: str
    label: Callable[[pd.Series], str | None]
    order: tuple[str, ...]  # legend order, oldest convention first


def _spelled(column: str) -> Callable[[pd.Series], str | None]:
    """The column's readable label (zoo.labels, the spellings the command line accepts too)."""

    def read(row: pd.Series) -> str | None:
        value = row[column]
        return None if pd.isna(value) else label(column, value)

    return read


def _order(column: str) -> tuple[str, ...]:
    return tuple(LABELS[column].values())


def _flag(column: str, yes: str, no: str) -> Callable[[pd.Series], str | None]:
    def label(row: pd.Series) -> str | None:
        value = row[column]
        return None if pd.isna(value) else (yes if bool(value) else no)

    return label


def _present(column: str, yes: str, no: str) -> Callable[[pd.Series], str]:
    """For a coefficient that is null when the trick is not used (z-loss, soft-caps)."""

    def label(row: pd.Series) -> str:
        return no if pd.isna(row[column]) else yes

    return label


def _layer_mix(row: pd.Series) -> str | None:
    pattern = row["layer_pattern"]
    if pd.isna(pattern):
        return None
    if "L" not in pattern:
        return "all global"
    if "G" not in pattern:
        return "all local"
    return "hybrid local/global"


def _biases(row: pd.Series) -> str | None:
    linear, qkv = row["linear_bias"], row["qkv_bias"]
    if pd.isna(linear) or pd.isna(qkv):
        return None
    if linear:
        return "all linear layers"
    return "q/k/v only" if qkv else "none"


def _dropout(row: pd.Series) -> str | None:
    value = row["dropout"]
    if pd.isna(value):
        return None
    return "dropout" if value > 0 else "no dropout"


def _moe(row: pd.Series) -> str:
    return "dense" if pd.isna(row["n_experts"]) else "mixture of experts"


CHOICES: tuple[Choice, ...] = (
    Choice("norm_position", "Norm position",
           "The 2017 Transformer normalised after the residual add (post-norm); GPT-2 moved the norm before each "
           "sublayer (pre-norm), and recent models add a second norm on the sublayer output.",
           _spelled("norm_position"), _order("norm_position")),
    Choice("norm", "Normalisation",
           "LayerNorm (mean and variance) gave way to RMSNorm (scale only), which is cheaper and as stable.",
           _spelled("norm"), _order("norm")),
    Choice("activation", "MLP activation",
           "ReLU, then GELU, then gated linear units (SwiGLU, GeGLU) that multiply two projections.",
           _spelled("activation"), _order("activation")),
    Choice("position", "Position encoding",
           "Sinusoidal and learned absolute positions, relative biases, ALiBi, and finally rotary embeddings (RoPE).",
           _spelled("position"), _order("position")),
    Choice("attention", "Attention heads",
           "Multi-head attention keeps one key/value head per query head; multi-query shares one, "
           "grouped-query attention shares each among a group, shrinking the KV cache.",
           _spelled("attention"), _order("attention")),
    Choice("layer_mix", "Local/global layers",
           "Every layer attending to the whole context, or sliding-window/chunked local layers, alone or "
           "interleaved with global ones (the recent hybrid pattern).",
           _layer_mix, ("all global", "all local", "hybrid local/global")),
    Choice("block", "Serial or parallel block",
           "A serial block runs attention then the MLP; a parallel block (GPT-J, PaLM) feeds both the same input "
           "and sums them.",
           _flag("parallel_block", "parallel", "serial"), ("serial", "parallel")),
    Choice("qk_norm", "QK-norm",
           "Normalising queries and keys before the dot product keeps attention logits bounded.",
           _flag("qk_norm", "QK-norm", "no QK-norm"), ("no QK-norm", "QK-norm")),
    Choice("z_loss", "z-loss",
           "An auxiliary loss on log Z of the output softmax that keeps the logits from drifting (PaLM).",
           _present("z_loss", "z-loss", "no z-loss"), ("no z-loss", "z-loss")),
    Choice("attn_softcap", "Attention logit soft-cap",
           "c·tanh(logits/c) on attention logits bounds them smoothly (Gemma 2, Grok-1).",
           _present("attn_softcap", "soft-capped", "uncapped"), ("uncapped", "soft-capped")),
    Choice("final_softcap", "Output logit soft-cap",
           "The same cap on the output logits.",
           _present("final_softcap", "soft-capped", "uncapped"), ("uncapped", "soft-capped")),
    Choice("moe", "Mixture of experts",
           "Dense MLPs, or routed experts of which each token uses only a few.",
           _moe, ("dense", "mixture of experts")),
    Choice("tied_embeddings", "Tied embeddings",
           "Whether the output projection reuses the input embedding matrix.",
           _flag("tied_embeddings", "tied", "untied"), ("tied", "untied")),
    Choice("biases", "Linear biases",
           "Biases in every projection (the 2017 default), on q/k/v only (Qwen), or none (PaLM, LLaMA).",
           _biases, ("all linear layers", "q/k/v only", "none")),
    Choice("dropout", "Dropout",
           "Pretraining dropout, standard early on and dropped once models saw each token about once.",
           _dropout, ("dropout", "no dropout")),
)

CHOICES_BY_NAME = {choice.name: choice for choice in CHOICES}


def choice_labels(frame: pd.DataFrame, choice: Choice) -> pd.Series:
    """The choice's label for every row of `frame` (NOT_PUBLISHED where the catalog has no value)."""
    if frame.empty:
        return pd.Series([], index=frame.index, dtype="object")
    return frame.apply(lambda row: choice.label(row) or NOT_PUBLISHED, axis=1).astype("object")


def legend_order(labels: pd.Series, choice: Choice) -> list[str]:
    """The choice's labels that occur in `labels`, in historical order, NOT_PUBLISHED last."""
    present = set(labels)
    known = [label for label in choice.order if label in present]
    others = sorted(present - set(choice.order) - {NOT_PUBLISHED})
    return known + others + ([NOT_PUBLISHED] if NOT_PUBLISHED in present else [])


def adoption(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Share of the models released up to each year that made each choice.

    One row per (year, label) from the first to the last release year: `models` is how many
    models up to that year chose the label, `share` that count over all models up to that year.
    """
    if frame.empty:
        return pd.DataFrame(columns=["year", "label", "models", "total", "share"])
    years = range(int(frame["year"].min()), int(frame["year"].max()) + 1)
    data = pd.DataFrame({"year": frame["year"].astype(int).to_numpy(), "label": labels.to_numpy()})
    rows = []
    for year in years:
        upto = data[data["year"] <= year]
        counts = upto["label"].value_counts()
        for label in data["label"].unique():
            models = int(counts.get(label, 0))
            rows.append({"year": year, "label": label, "models": models, "total": len(upto),
                         "share": models / len(upto) if len(upto) else 0.0})
    return pd.DataFrame(rows)


def first_adopters(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """For each label, the earliest model(s) in `frame` that made that choice, with the release month."""
    data = frame[["name", "released"]].assign(label=labels.to_numpy())
    data = data[data["label"] != NOT_PUBLISHED]
    rows = []
    for label, group in data.groupby("label", sort=False):
        first = group["released"].min()
        names = group.loc[group["released"] == first, "name"].sort_values()
        rows.append({"label": label, "first": first, "models": ", ".join(names), "count": len(group)})
    return pd.DataFrame(rows, columns=["label", "first", "models", "count"]).sort_values("first", ignore_index=True)
