"""Rotary position embeddings (RoPE): inverse frequencies with their scalings, cos/sin tables, the rotation.

`RotaryEmbedding` keeps its inverse frequencies as a non-persistent buffer that `init_weights` recomputes after
a meta build; one table serves every layer with the same RopePlan (zoo.plan).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from builder.network.init import Init, Initialised
from zoo.plan import RopePlan
from zoo.schema import RopeLayout, RopeScalingKind


def _yarn(inv_freq: torch.Tensor, plan: RopePlan) -> torch.Tensor:
    """YaRN: frequencies that turn fewer than beta_slow times over the original context are interpolated (divided
    by factor), those that turn more than beta_fast times kept, and a linear ramp over the dims between."""
    scaling, dim = plan.scaling, plan.rotary_dim

    def dim_of(rotations: float) -> float:  # the dim whose frequency turns `rotations` times in the original context
        return dim * math.log(scaling.original_context_length / (rotations * 2 * math.pi)) / (2 * math.log(plan.theta))

    low, high = dim_of(scaling.beta_fast or 32), dim_of(scaling.beta_slow or 1)
    if scaling.truncate is not False:
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, dim - 1)
    ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low if high != low else 0.001)).clamp(0, 1)
    return inv_freq / scaling.factor * ramp + inv_freq * (1 - ramp)


def rope_inverse_frequencies(plan: RopePlan) -> torch.Tensor:
    """theta^(-2i/d) over the rotated dims, then linear, LLaMA 3 or YaRN frequency scaling (as Hugging Face
    computes it)."""
    dim = plan.rotary_dim
    inv_freq = 1.0 / (plan.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = plan.scaling
    if scaling is None:
        return inv_freq
    if scaling.kind is RopeScalingKind.linear:
        return inv_freq / scaling.factor
    if scaling.kind is RopeScalingKind.yarn:
        return _yarn(inv_freq, plan)
    original = scaling.original_context_length
    low_freq_wavelen = original / scaling.low_freq_factor
    high_freq_wavelen = original / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq)
    if scaling.low_freq_factor == scaling.high_freq_factor:
        return scaled  # no smoothed band: a plain step at the original context (LLaMA 4 Scout)
    smooth = (original / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
    smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


class RotaryEmbedding(nn.Module, Initialised):
    """cos/sin of position * inverse frequency, one table per distinct RoPE plan, built once per forward."""

    def __init__(self, plan: RopePlan):
        super().__init__()
        self.plan = plan
        self.register_buffer("inv_freq", rope_inverse_frequencies(plan), persistent=False)

    def init_weights(self, init: Init) -> None:
        self.inv_freq = rope_inverse_frequencies(self.plan).to(self.inv_freq.device)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [..., rotary_dim] for positions of any shape, in `dtype` (the activations').

        Full width: each frequency appears at both dims of its pair, laid out as the plan's pairs are
        ([f | f] for half, [f0 f0 f1 f1 ...] for interleaved), so apply_rotary needs no slicing of the tables.
        Angles are computed in float32 and rounded once, as transformers does.
        """
        angles = positions.float()[..., None] * self.inv_freq.float()
        if self.plan.layout is RopeLayout.half:
            angles = torch.cat((angles, angles), dim=-1)
        else:
            angles = angles.repeat_interleave(2, dim=-1)
        factor = 1.0 if self.plan.scaling is None else self.plan.scaling.yarn_attention_factor
        return (angles.cos() * factor).to(dtype), (angles.sin() * factor).to(dtype)


def rotate_pairs(x: torch.Tensor, layout: RopeLayout) -> torch.Tensor:
    """The 90-degree turn of every pair (a, b) -> (-b, a): pairs (i, i + d/2) for half, (2i, 2i + 1) for
    interleaved."""
    if layout is RopeLayout.half:
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, layout: RopeLayout) -> torch.Tensor:
    """Rotate the first cos.shape[-1] dims of each head of x [..., T, head_dim]; the rest pass through.

    cos, sin are RotaryEmbedding's full-width tables in x's dtype. x * cos + rotate_pairs(x) * sin is, pair by
    pair, (a cos - b sin, b cos + a sin) with the same roundings as the two-product form. half: pairs
    (i, i + r/2) as in GPT-NeoX/LLaMA; interleaved: pairs (2i, 2i + 1) as in GPT-J/Cohere.
    """
    rotary = cos.shape[-1]
    if rotary == x.shape[-1]:
        return x * cos + rotate_pairs(x, layout) * sin
    rot = x[..., :rotary]
    return torch.cat((rot * cos + rotate_pairs(rot, layout) * sin, x[..., rotary:]), dim=-1)
