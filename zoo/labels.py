"""Readable spellings of the catalog's categorical values, shared by the dashboard and the command line.

The public row stores each choice in its fixed spelling (`rmsnorm`, `gqa`); people read and type the
readable one (`RMSNorm`, `grouped-query (GQA)`). Both name the same value: `match_value` accepts either,
case-insensitively, and a label's bracketed abbreviation alone too (`GQA`).
"""

from __future__ import annotations

import re

from zoo.schema import Activation, Arch, Norm, NormPosition, Position

# Categorical column -> {stored value: readable label}, in historical order.
LABELS: dict[str, dict[str, str]] = {
    "arch": {Arch.encoder_decoder.value: "encoder-decoder", Arch.encoder.value: "encoder-only",
             Arch.decoder.value: "decoder-only"},
    "norm": {Norm.layernorm.value: "LayerNorm", Norm.rmsnorm.value: "RMSNorm"},
    "norm_position": {NormPosition.post.value: "post-norm", NormPosition.pre.value: "pre-norm",
                      NormPosition.double.value: "double (pre + post)",
                      NormPosition.reordered.value: "reordered (output only)"},
    "activation": {Activation.relu.value: "ReLU", Activation.gelu.value: "GELU", Activation.silu.value: "SiLU",
                   Activation.reglu.value: "ReGLU", Activation.geglu.value: "GeGLU", Activation.swiglu.value: "SwiGLU",
                   Activation.clamped_swiglu.value: "clamped SwiGLU"},
    "position": {Position.sinusoidal.value: "sinusoidal", Position.learned.value: "learned",
                 Position.relative_bias.value: "T5 relative bias", Position.xl_relative.value: "Transformer-XL relative",
                 Position.alibi.value: "ALiBi", Position.rope.value: "RoPE", Position.none.value: "none (NoPE)"},
    "attention": {"mha": "multi-head (MHA)", "mqa": "multi-query (MQA)", "gqa": "grouped-query (GQA)",
                  "mla": "multi-head latent (MLA)"},
}


def label(column: str, value: str) -> str:
    """The readable label of a stored value (the value itself where the column has none)."""
    return LABELS.get(column, {}).get(value, value)


def _spellings(value: str, readable: str) -> set[str]:
    spellings = {value.lower(), readable.lower()}
    bracketed = re.fullmatch(r"(.*?) \((.*)\)", readable)
    if bracketed:
        spellings |= {part.strip().lower() for part in bracketed.groups()}
    return spellings


def match_value(column: str, text: str) -> str | None:
    """The stored value `text` names in a categorical column (its spelling or label, any case), or None."""
    wanted = text.strip().lower()
    for value, readable in LABELS[column].items():
        if wanted in _spellings(value, readable):
            return value
    return None
