"""The layer plan: every per-layer decision of an Architecture, made once, in one place.

Which token mixer a layer uses, what it may attend (causal, sliding window, chunk), its positions (RoPE
table, bias, or none on NoPE layers), how its queries are scaled, where its QK-norm applies, whether it
cross-attends to an encoder, and whether its MLP is dense or a mixture of experts. The builder's modules,
the parameter accounting and the FLOP convention all read this plan and re-derive none of it.

Pure Python (no torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from zoo.schema import (
    Arch, Architecture, LocalAttention, Position, QKNorm, QueryScale, QueryTemperature, RopeLayout, RopeScaling,
    RopeScalingKind,
    TokenMixer,
)


class QKNormStage(str, Enum):
    """Where a layer normalises its queries and keys."""

    projection = "projection"  # before RoPE, over each token's whole q (or k) projection (OLMo 2)
    head = "head"  # before RoPE, over each head's dims (Qwen 3, Gemma 3, Command R+)
    rotated = "rotated"  # after RoPE, a weightless RMS norm over each head's dims (LLaMA 4's RoPE layers)


_QK_NORM_STAGES = {
    QKNorm.projection: QKNormStage.projection,
    QKNorm.head: QKNormStage.head,
    QKNorm.head_unshared: QKNormStage.head,
    QKNorm.l2: QKNormStage.rotated,
}

# What the attention logits q.k are multiplied by, per the spec's query_scale.
_QUERY_SCALES = {
    QueryScale.head_dim: lambda arch: arch.head_dim**-0.5,
    QueryScale.d_model_over_heads: lambda arch: (arch.d_model / arch.n_heads) ** -0.5,
    QueryScale.none: lambda arch: 1.0,
}


@dataclass(frozen=True)
class RopePlan:
    """One rotary table: its base, rotated dims, pair layout and frequency scaling."""

    theta: float
    rotary_dim: int
    layout: RopeLayout
    scaling: RopeScaling | None

    @property
    def key(self) -> str:
        """A stable name for the table; layers with equal plans share one."""
        scaling = "none" if self.scaling is None else f"{self.scaling.kind.value}{self.scaling.factor:g}"
        return f"theta{self.theta:g}_dim{self.rotary_dim}_{self.layout.value}_{scaling}".replace(".", "p")


@dataclass(frozen=True)
class AttentionPlan:
    """Everything one token mixer of a layer needs: its kind, mask, positions, query scaling and QK-norm."""

    mixer: TokenMixer
    causal: bool
    local: LocalAttention | None  # None for a global layer
    window: int | None  # sliding window or chunk size of a local layer
    position: Position  # this mixer's positional encoding; Position.none on NoPE layers and in cross-attention
    rope: RopePlan | None
    scale: float  # multiplies the logits q.k
    temperature: QueryTemperature | None  # LLaMA 4's position-dependent query scaling on NoPE layers
    qk_norm: QKNormStage | None
    cross: bool  # attends to the encoder output instead of its own tokens

    @property
    def kind(self) -> str:
        """'global', 'sliding' or 'chunked'."""
        return "global" if self.local is None else self.local.value


@dataclass(frozen=True)
class LayerPlan:
    """Everything one Block needs to know about its layer."""

    index: int
    stack: str  # "encoder" or "decoder" ("decoder" also names an encoder-only model's one stack)
    attention: AttentionPlan  # the layer's own token mixer
    cross_attention: AttentionPlan | None  # attention to the encoder output (decoder of an encoder-decoder)
    moe: bool  # a mixture-of-experts MLP instead of a dense one

    # The layer's self-attention, read through.
    @property
    def kind(self) -> str:
        return self.attention.kind

    @property
    def causal(self) -> bool:
        return self.attention.causal

    @property
    def local(self) -> LocalAttention | None:
        return self.attention.local

    @property
    def window(self) -> int | None:
        return self.attention.window

    @property
    def position(self) -> Position:
        return self.attention.position

    @property
    def rope(self) -> RopePlan | None:
        return self.attention.rope


@dataclass(frozen=True)
class ModelPlan:
    encoder: tuple[LayerPlan, ...]  # empty unless encoder-decoder
    decoder: tuple[LayerPlan, ...]  # the main stack: decoder layers, or the encoder of an encoder-only model

    @property
    def layers(self) -> tuple[LayerPlan, ...]:
        return self.encoder + self.decoder


def _rope_plan(arch: Architecture, local: bool) -> RopePlan:
    theta = arch.rope_local_theta if (local and arch.rope_local_theta is not None) else arch.rope_theta
    scaling = arch.rope_scaling
    if scaling is not None and scaling.global_only and local:
        scaling = None
    return RopePlan(
        theta=theta,
        rotary_dim=round(arch.head_dim * arch.rotary_fraction),
        layout=arch.rope_layout,
        scaling=scaling,
    )


def _qk_norm_stage(arch: Architecture, rotated: bool) -> QKNormStage | None:
    """The stage of the spec's QK-norm on a mixer; the after-RoPE norm exists only where RoPE rotates."""
    stage = _QK_NORM_STAGES.get(arch.qk_norm)
    return None if stage is QKNormStage.rotated and not rotated else stage


def query_scale(arch: Architecture) -> float:
    """What q.k is multiplied by: 1 / sqrt(the spec's query_scale), named or a number. Multi-head latent
    attention under YaRN with mscale_all_dim also multiplies it by (0.1 mscale_all_dim ln(factor) + 1)**2, as
    DeepSeek's attention does (its cos/sin then carry only the ratio of the two mscales)."""
    scale = _QUERY_SCALES[arch.query_scale](arch) if isinstance(arch.query_scale, QueryScale) else arch.query_scale**-0.5
    scaling = arch.rope_scaling
    if arch.mla is not None and scaling is not None and scaling.kind is RopeScalingKind.yarn and scaling.mscale_all_dim:
        if scaling.factor > 1:
            scale *= (0.1 * scaling.mscale_all_dim * math.log(scaling.factor) + 1.0) ** 2
    return scale


def _self_attention(arch: Architecture, stack: str, local: bool, nope: bool) -> AttentionPlan:
    position = Position.none if (arch.global_nope and not local) or nope else arch.position
    rope = _rope_plan(arch, local) if position is Position.rope else None
    global_nope = arch.global_nope and position is Position.none
    return AttentionPlan(
        mixer=arch.token_mixer,
        causal=arch.arch is not Arch.encoder and stack == "decoder",
        local=arch.local_attention if local else None,
        window=arch.sliding_window if local else None,
        position=position,
        rope=rope,
        scale=query_scale(arch),
        temperature=arch.nope_query_temperature if global_nope else None,
        qk_norm=_qk_norm_stage(arch, rotated=rope is not None),
        cross=False,
    )


def _cross_attention(arch: Architecture) -> AttentionPlan:
    """Attention from decoder tokens to every encoder output: no mask but padding, no positions."""
    return AttentionPlan(
        mixer=arch.token_mixer, causal=False, local=None, window=None, position=Position.none, rope=None,
        scale=query_scale(arch), temperature=None,
        qk_norm=_qk_norm_stage(arch, rotated=False), cross=True,
    )


def _is_moe(arch: Architecture, index: int) -> bool:
    """After moe.first_dense dense layers, moe_pattern repeats (M: experts, D: a dense MLP)."""
    moe = arch.moe
    if moe is None or index < moe.first_dense:
        return False
    return moe.moe_pattern[(index - moe.first_dense) % len(moe.moe_pattern)] == "M"


def _layer(arch: Architecture, index: int, stack: str) -> LayerPlan:
    local = stack == "decoder" and arch.layer_pattern[index % len(arch.layer_pattern)] == "L"
    nope = arch.nope_pattern is not None and arch.nope_pattern[index % len(arch.nope_pattern)] == "N"
    cross = arch.arch is Arch.encoder_decoder and stack == "decoder"
    return LayerPlan(
        index=index,
        stack=stack,
        attention=_self_attention(arch, stack, local, nope),
        cross_attention=_cross_attention(arch) if cross else None,
        moe=_is_moe(arch, index),
    )


def plan_model(arch: Architecture) -> ModelPlan:
    """Per-layer plan; layer_pattern and moe_pattern repeat from layer 0 of each stack."""
    n_encoder = arch.n_encoder_layers or 0
    return ModelPlan(
        encoder=tuple(_layer(arch, i, "encoder") for i in range(n_encoder)),
        decoder=tuple(_layer(arch, i, "decoder") for i in range(arch.n_layers)),
    )
