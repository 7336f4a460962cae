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
class Paper:
    """The paper that introduced or established a choice."""

    title: str
    url: str


@dataclass(frozen=True)
class Choice:
    """One design decision: its URL/query name, its title, why it matters, how to read it off a row, and the
    papers behind it."""

    name: str
    title: str
    story: str
    label: Callable[[pd.Series], str | None]
    order: tuple[str, ...]  # legend order, oldest convention first
    papers: tuple[Paper, ...] = ()
    phrases: dict[str, str] | None = None  # how the consensus line names a label ("gated" -> "gated MLPs")

    def phrase(self, label: str) -> str:
        return (self.phrases or {}).get(label, label)


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
    local = "chunked" if bool(row["chunked_attention"]) else "sliding"
    if "L" not in pattern:
        return "all global"
    if "G" not in pattern:
        return f"all {local}"
    return f"{local} + global"


def _position(row: pd.Series) -> str | None:
    value = row["position"]
    if pd.isna(value):
        return None
    spelled = label("position", value)
    if bool(row["global_nope"]):
        return f"{spelled} + NoPE global layers"
    return f"{spelled} + NoPE layers" if row["nope_layers"] else spelled


def _biases(row: pd.Series) -> str | None:
    """Which projections carry biases: the public row's linear_bias and qkv_bias, and the record's MLP biases
    (`mlp_bias`, added by dashboard.data), which can differ (the 2017 Transformer: MLP only)."""
    linear, qkv, mlp = row["linear_bias"], row["qkv_bias"], row["mlp_bias"]
    if pd.isna(linear) or pd.isna(qkv) or pd.isna(mlp):
        return None
    if linear and mlp:
        return "all linear layers" if qkv else "output and MLP"
    if qkv:
        return "q/k/v and MLP" if mlp else "q/k/v only"
    return "MLP only" if mlp else "none"


def _dropout(row: pd.Series) -> str | None:
    value = row["dropout"]
    if pd.isna(value):
        return None
    return "dropout" if value > 0 else "no dropout"


def _moe(row: pd.Series) -> str:
    return "dense" if pd.isna(row["n_experts"]) else "mixture of experts"


def _paper(title: str, arxiv: str) -> Paper:
    return Paper(title, f"https://arxiv.org/abs/{arxiv}")


VASWANI = _paper("Attention Is All You Need (Vaswani et al., 2017)", "1706.03762")
PALM = _paper("PaLM: Scaling Language Modeling with Pathways (Chowdhery et al., 2022)", "2204.02311")
GEMMA_2 = _paper("Gemma 2: Improving Open Language Models at a Practical Size (2024)", "2408.00118")

CHOICES: tuple[Choice, ...] = (
    Choice("norm_position", "Norm position",
           "Normalising after the residual add (post-norm) needs warm-up and grows unstable in deep stacks; "
           "normalising each sublayer's input (pre-norm) leaves a clean residual path. Gemma 2 adds a second norm on "
           "the sublayer output, OLMo 2 keeps only that one.",
           _spelled("norm_position"), _order("norm_position"),
           (_paper("On Layer Normalization in the Transformer Architecture (Xiong et al., 2020)", "2002.04745"),
            _paper("2 OLMo 2 Furious (Team OLMo, 2024)", "2501.00656"))),
    Choice("norm", "Normalisation",
           "RMSNorm drops LayerNorm's mean-centering and keeps only the rescaling: as good, and cheaper.",
           _spelled("norm"), _order("norm"),
           (_paper("Root Mean Square Layer Normalization (Zhang & Sennrich, 2019)", "1910.07467"),)),
    Choice("gated_mlp", "Gated MLP",
           "Multiplying two projections, one through the activation, beat plain ReLU and GELU MLPs at equal "
           "compute; gated MLPs became the default.",
           _flag("gated_mlp", "gated", "plain"), ("plain", "gated"),
           (_paper("GLU Variants Improve Transformer (Shazeer, 2020)", "2002.05202"),),
           {"gated": "gated MLPs", "plain": "plain MLPs"}),
    Choice("activation", "MLP activation",
           "ReLU, then the smooth GELU (BERT, GPT-2), then gated units: SwiGLU and GeGLU.",
           _spelled("activation"), _order("activation"),
           (_paper("Gaussian Error Linear Units (Hendrycks & Gimpel, 2016)", "1606.08415"),
            _paper("GLU Variants Improve Transformer (Shazeer, 2020)", "2002.05202"))),
    Choice("position", "Position encoding",
           "Rotating queries and keys by position (RoPE) makes attention depend on relative offsets with no "
           "parameters; it replaced absolute tables and biases. Recent models leave positions out of their global "
           "layers (NoPE).",
           _position, (*_order("position"), "RoPE + NoPE global layers", "RoPE + NoPE layers"),
           (_paper("RoFormer: Enhanced Transformer with Rotary Position Embedding (Su et al., 2021)", "2104.09864"),
            _paper("The Impact of Positional Encoding on Length Generalization in Transformers (2023)",
                   "2305.19466"))),
    Choice("attention", "Attention heads",
           "Sharing key/value heads among query heads shrinks the KV cache and decoding memory traffic: one for all "
           "(multi-query) or one per group (grouped-query), at near multi-head quality.",
           _spelled("attention"), _order("attention"),
           (_paper("Fast Transformer Decoding: One Write-Head is All You Need (Shazeer, 2019)", "1911.02150"),
            _paper("GQA: Training Generalized Multi-Query Transformer Models (Ainslie et al., 2023)", "2305.13245"))),
    Choice("layer_mix", "Local/global layers",
           "Local layers attend to a sliding window or a fixed chunk: linear cost and a bounded KV cache. Interleaved "
           "with a few global layers, they keep long-range access.",
           _layer_mix, ("all global", "all sliding", "sliding + global", "chunked + global"),
           (_paper("Longformer: The Long-Document Transformer (Beltagy et al., 2020)", "2004.05150"), GEMMA_2)),
    Choice("block", "Serial or parallel block",
           "A parallel block feeds attention and the MLP the same normalised input and sums them, so their "
           "matmuls fuse; PaLM reported about 15% faster training.",
           _flag("parallel_block", "parallel", "serial"), ("serial", "parallel"), (PALM,),
           {"serial": "serial blocks", "parallel": "parallel blocks"}),
    Choice("attention_sinks", "Attention sinks",
           "A learned logit per head joins every softmax's denominator, so a head can attend to nothing instead of "
           "parking its attention on the first tokens.",
           _flag("attention_sinks", "sinks", "no sinks"), ("no sinks", "sinks"),
           (_paper("Efficient Streaming Language Models with Attention Sinks (Xiao et al., 2023)", "2309.17453"),
            _paper("gpt-oss-120b & gpt-oss-20b Model Card (OpenAI, 2025)", "2508.10925"))),
    Choice("qk_norm", "QK-norm",
           "Normalising queries and keys before their dot product stops attention logits from blowing up at scale.",
           _flag("qk_norm", "QK-norm", "no QK-norm"), ("no QK-norm", "QK-norm"),
           (_paper("Scaling Vision Transformers to 22 Billion Parameters (Dehghani et al., 2023)", "2302.05442"),)),
    Choice("z_loss", "z-loss",
           "A small penalty on log Z of the output softmax keeps the logits near zero and bf16 training stable.",
           _present("z_loss", "z-loss", "no z-loss"), ("no z-loss", "z-loss"), (PALM,)),
    Choice("attn_softcap", "Attention logit soft-cap",
           "c·tanh(logits/c) bounds attention logits smoothly instead of clipping them.",
           _present("attn_softcap", "soft-capped", "uncapped"), ("uncapped", "soft-capped"), (GEMMA_2,),
           {"soft-capped": "soft-capped attention logits", "uncapped": "uncapped attention logits"}),
    Choice("final_softcap", "Output logit soft-cap",
           "The same cap on the output logits.",
           _present("final_softcap", "soft-capped", "uncapped"), ("uncapped", "soft-capped"), (GEMMA_2,),
           {"soft-capped": "soft-capped output logits", "uncapped": "uncapped output logits"}),
    Choice("moe", "Mixture of experts",
           "A router sends each token to a few of many expert MLPs: far more parameters for the same compute per "
           "token.",
           _moe, ("dense", "mixture of experts"),
           (_paper("Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer (2017)",
                   "1701.06538"), _paper("Mixtral of Experts (Jiang et al., 2024)", "2401.04088"))),
    Choice("tied_embeddings", "Tied embeddings",
           "Reusing the input embedding as the output projection removes a vocabulary-sized matrix; large models "
           "mostly untie them again.",
           _flag("tied_embeddings", "tied", "untied"), ("tied", "untied"),
           (_paper("Using the Output Embedding to Improve Language Models (Press & Wolf, 2016)", "1608.05859"),)),
    Choice("biases", "Linear biases",
           "Biases in every projection were the early default (the 2017 Transformer: MLP only); PaLM dropped them "
           "all for stability, Qwen keeps them on q/k/v.",
           _biases, ("all linear layers", "output and MLP", "q/k/v and MLP", "MLP only", "q/k/v only", "none"),
           (VASWANI, PALM),
           {"all linear layers": "biases in every projection", "q/k/v and MLP": "q/k/v and MLP biases",
            "MLP only": "MLP biases only", "q/k/v only": "q/k/v biases only", "none": "no linear biases",
            "output and MLP": "output and MLP biases"}),
    Choice("dropout", "Dropout",
           "Standard in pretraining early on, and dropped once models saw each token about once.",
           _dropout, ("dropout", "no dropout"), (), {"dropout": "pretraining dropout", "no dropout": "no dropout"}),
)

CHOICES_BY_NAME = {choice.name: choice for choice in CHOICES}
# The choices the one-line consensus speaks of: those every model makes and the lecture's story is about.
HEADLINE_CHOICES = tuple(CHOICES_BY_NAME[name] for name in (
    "position", "gated_mlp", "norm", "norm_position", "attention", "biases", "block", "dropout"))


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


def yearly_shares(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Share of the models released in each year that made each choice (per release year, not cumulative).

    One row per (year with releases, label present in the frame): `models` released that year with the label,
    `total` released that year, `share` = models / total.
    """
    if frame.empty:
        return pd.DataFrame(columns=["year", "label", "models", "total", "share"])
    data = pd.DataFrame({"year": frame["year"].astype(int).to_numpy(), "label": labels.to_numpy()})
    counts = data.groupby(["year", "label"]).size()
    totals = data.groupby("year").size()
    rows = [{"year": int(year), "label": label, "models": int(counts.get((year, label), 0)), "total": int(total),
             "share": counts.get((year, label), 0) / total}
            for year, total in totals.items() for label in data["label"].unique()]
    return pd.DataFrame(rows)


def consensus_summary(frame: pd.DataFrame, since: int, choices: tuple[Choice, ...] = CHOICES) -> str:
    """One line on what the models released in or after `since` agree on, computed from `frame`.

    Per choice, among the models with a published value: "all X" when every one made it, "N% X" when at
    least three in four did (a negative phrase reads "no X" / "N% no X"), and, unless one choice took all,
    "no Y" for a label that most earlier models chose and none since.
    """
    recent, earlier = frame[frame["year"] >= since], frame[frame["year"] < since]
    if recent.empty:
        return f"No listed model was released in {since} or later."
    parts: list[str] = []
    for choice in choices:
        labels = choice_labels(recent, choice)
        known = labels[labels != NOT_PUBLISHED]
        if known.empty:
            continue
        counts = known.value_counts()
        top, share = counts.index[0], counts.iloc[0] / len(known)
        phrase = choice.phrase(top)
        if share == 1:
            parts.append(phrase if phrase.startswith("no ") else f"all {phrase}")
            continue
        if share >= 0.75:
            parts.append(f"{share:.0%} {phrase}")
        before = choice_labels(earlier, choice)
        before = before[before != NOT_PUBLISHED]
        for earlier_label, n in before.value_counts().items():
            if n / len(before) >= 0.5 and earlier_label not in counts.index \
                    and not choice.phrase(earlier_label).startswith("no "):
                parts.append(f"no {choice.phrase(earlier_label)}")
    return f"Since {since} ({len(recent)} models): " + ", ".join(parts) + "."


def first_adopters(frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """For each label, the earliest model(s) in `frame` that made that choice, with the release month."""
    data = frame[["name", "released"]].assign(label=labels.to_numpy())
    data = data[data["label"] != NOT_PUBLISHED]
    rows = []
    for value, group in data.groupby("label", sort=False):
        first = group["released"].min()
        names = group.loc[group["released"] == first, "name"].sort_values()
        rows.append({"label": value, "first": first, "models": ", ".join(names), "count": len(group)})
    return pd.DataFrame(rows, columns=["label", "first", "models", "count"]).sort_values("first", ignore_index=True)


# Frontier choices whose first adopter the Hyperparameters page names: (what, the rows that made the choice).
FRONTIER_FIRSTS = (
    ("multi-head latent attention", lambda f: f["attention"] == "mla"),
    ("attention sinks", lambda f: f["attention_sinks"].fillna(False).astype(bool)),
    ("YaRN", lambda f: f["rope_scaling"] == "yarn"),
    ("NoPE layers", lambda f: f["nope_layers"].fillna(0) > 0),
    ("shared experts", lambda f: f["n_shared_experts"].fillna(0) > 0),
    ("fine-grained experts (narrower than d_model)", lambda f: f["expert_d_ff"] < f["d_model"]),
    ("multi-token prediction", lambda f: f["mtp_layers"].fillna(0) > 0),
)


def first_adopters_line(frame: pd.DataFrame) -> str:
    """'First with ...: model (month)' for each frontier choice some row of `frame` makes, from the data."""
    parts = []
    for what, made in FRONTIER_FIRSTS:
        rows = frame[made(frame).fillna(False).astype(bool)]
        if not rows.empty:
            first = rows["released"].min()
            names = ", ".join(sorted(rows.loc[rows["released"] == first, "name"]))
            parts.append(f"{what}: **{names}** ({first})")
    return "First adopters among the listed models: " + "; ".join(parts) + "." if parts else ""
