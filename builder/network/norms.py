"""Norm layers keyed by the spec's `norm`, with Gemma's (1 + w) scale as an option; each starts as identity."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from builder.network.init import Init, Initialised
from zoo.schema import Architecture, Norm


def _identity_scale(norm: nn.Module, unit_offset: bool) -> None:
    """weight 1 (0 under a unit offset, which scales by 1 + w), bias 0."""
    if norm.weight is not None:
        (nn.init.zeros_ if unit_offset else nn.init.ones_)(norm.weight)
    if norm.bias is not None:
        nn.init.zeros_(norm.bias)


class LayerNorm(nn.LayerNorm, Initialised):
    def init_weights(self, init: Init) -> None:
        _identity_scale(self, unit_offset=False)


class RMSNorm(nn.RMSNorm, Initialised):
    def init_weights(self, init: Init) -> None:
        nn.init.ones_(self.weight)


class UnitOffsetNorm(nn.Module, Initialised):
    """RMSNorm or LayerNorm that scales by (1 + weight), weight starting at 0 (Gemma).

    Computed in float32 and cast back, as Hugging Face's Gemma RMSNorm does, so bf16 runs match it.
    """

    def __init__(self, dim: int, eps: float, rms: bool, bias: bool):
        super().__init__()
        self.eps, self.rms = eps, rms
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        scale = 1.0 + self.weight.float()
        if self.rms:
            out = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps) * scale
        else:
            bias = None if self.bias is None else self.bias.float()
            out = F.layer_norm(x32, x32.shape[-1:], scale, bias, self.eps)
        return out.type_as(x)

    def init_weights(self, init: Init) -> None:
        _identity_scale(self, unit_offset=True)


class HeadwiseNorm(nn.Module, Initialised):
    """A norm over each head's dims where every head has its own weight [heads, head_dim] (Command R+'s
    qk-norm); input [B, heads, T, head_dim], computed in float32 like Hugging Face's CohereLayerNorm."""

    def __init__(self, arch: Architecture, heads: int):
        super().__init__()
        self.eps, self.rms, self.unit_offset = arch.norm_eps, arch.norm is Norm.rmsnorm, arch.norm_unit_offset
        self.weight = nn.Parameter(torch.empty(heads, arch.head_dim))
        self.bias = nn.Parameter(torch.empty(heads, arch.head_dim)) if arch.norm_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        if self.rms:
            normalized = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        else:
            normalized = F.layer_norm(x32, x32.shape[-1:], eps=self.eps)
        scale = self.weight.float() + (1.0 if self.unit_offset else 0.0)
        out = normalized * scale[:, None, :]
        if self.bias is not None:
            out = out + self.bias.float()[:, None, :]
        return out.type_as(x)

    def init_weights(self, init: Init) -> None:
        _identity_scale(self, self.unit_offset)


class PlainLayerNorm(nn.Module):
    """LayerNorm with no learned scale or bias (OLMo 1), computed in float32 and cast back as transformers does."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), (self.dim,), eps=self.eps).type_as(x)


def _layernorm(arch: Architecture, dim: int) -> nn.Module:
    if not arch.norm_affine:
        return PlainLayerNorm(dim, arch.norm_eps)
    if arch.norm_unit_offset:
        return UnitOffsetNorm(dim, arch.norm_eps, rms=False, bias=arch.norm_bias)
    return LayerNorm(dim, eps=arch.norm_eps, bias=arch.norm_bias)


def _rmsnorm(arch: Architecture, dim: int) -> nn.Module:
    if not arch.norm_affine:
        return nn.RMSNorm(dim, eps=arch.norm_eps, elementwise_affine=False)
    if arch.norm_unit_offset:
        return UnitOffsetNorm(dim, arch.norm_eps, rms=True, bias=False)
    return RMSNorm(dim, eps=arch.norm_eps)


NORMS = {Norm.layernorm: _layernorm, Norm.rmsnorm: _rmsnorm}


def make_norm(arch: Architecture, dim: int, eps: float | None = None) -> nn.Module:
    """The spec's norm over the last `dim` features (with another epsilon where a component fixes its own)."""
    return NORMS[arch.norm](arch if eps is None else arch.model_copy(update={"norm_eps": eps}), dim)

