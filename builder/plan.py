"""Resolve an Architecture once into per-layer decisions, so modules never re-derive them.

Pure Python (no torch): accounting and the catalog use the same plan as the modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.schema import Arch, Architecture, LocalAttention, Position, RopeLayout, RopeScaling


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
class LayerPlan:
    """Everything one Block needs to know about its layer."""

    index: int
    stack: str  # "encoder" or "decoder" ("decoder" also names an encoder-only model's one stack)
    causal: bool
    local: LocalAttention | None  # None for a global layer
    window: int | None  # sliding window or chunk size of a local layer
    position: Position  # this layer's positional encoding; Position.none on NoPE layers
    rope: RopePlan | None
    moe: bool  # a mixture-of-experts MLP instead of a dense one
    cross_attention: bool  # attends to the encoder output (decoder of an encoder-decoder)

    @property
    def kind(self) -> str:
        """'global', 'sliding' or 'chunked'."""
        return "global" if self.local is None else self.local.value


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


def _layer(arch: Architecture, index: int, stack: str) -> LayerPlan:
    local = stack == "decoder" and arch.layer_pattern[index % len(arch.layer_pattern)] == "L"
    position = arch.position
    if arch.global_nope and not local:
        position = Position.none
    moe = arch.moe is not None and arch.moe.moe_pattern[index % len(arch.moe.moe_pattern)] == "M"
    return LayerPlan(
        index=index,
        stack=stack,
        causal=arch.arch is not Arch.encoder and stack == "decoder",
        local=arch.local_attention if local else None,
        window=arch.sliding_window if local else None,
        position=position,
        rope=_rope_plan(arch, local) if position is Position.rope else None,
        moe=moe,
        cross_attention=arch.arch is Arch.encoder_decoder and stack == "decoder",
    )


def plan_model(arch: Architecture) -> ModelPlan:
    """Per-layer plan; layer_pattern and moe_pattern repeat from layer 0 of each stack."""
    n_encoder = arch.n_encoder_layers or 0
    return ModelPlan(
        encoder=tuple(_layer(arch, i, "encoder") for i in range(n_encoder)),
        decoder=tuple(_layer(arch, i, "decoder") for i in range(arch.n_layers)),
    )
