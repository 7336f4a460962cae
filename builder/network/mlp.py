"""The dense feed-forward sublayer, plain or gated, and the activation functions behind the spec's choice.

Weight names: `up_proj`, `gate_proj` (gated only), `down_proj`, each an nn.Linear.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
import torch.nn.functional as F

from builder.network.init import Linear, Role
from zoo.schema import Activation, Architecture

# The non-linearity of each activation; gated variants apply it to the gate branch.
_BASE_ACTIVATION = {
    Activation.relu: Activation.relu,
    Activation.reglu: Activation.relu,
    Activation.gelu: Activation.gelu,
    Activation.geglu: Activation.gelu,
    Activation.silu: Activation.silu,
    Activation.swiglu: Activation.silu,
    Activation.clamped_swiglu: Activation.silu,
}


def gated_unit(arch: Architecture):
    """(gate, up) -> the gated hidden: act(gate) * up, or gpt-oss's clamped SwiGLU,
    (clamp(up, -l, l) + 1) * g * sigmoid(alpha g) with g = min(gate, l)."""
    if arch.activation is Activation.clamped_swiglu:
        limit, alpha = arch.glu_limit, arch.glu_alpha

        def clamped(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
            gate = gate.clamp(max=limit)
            return (up.clamp(-limit, limit) + 1) * gate * torch.sigmoid(gate * alpha)

        return clamped
    act = activation_fn(arch)
    return lambda gate, up: act(gate) * up


def activation_fn(arch: Architecture):
    """The elementwise function behind the spec's activation (GELU exact or tanh-approximated)."""
    base = _BASE_ACTIVATION[arch.activation]
    if base is Activation.gelu:
        return functools.partial(F.gelu, approximate="tanh" if arch.gelu_tanh else "none")
    return {Activation.relu: F.relu, Activation.silu: F.silu}[base]


class MLP(nn.Module):
    """down(act(up(x))), or down(act(gate(x)) * up(x)) for a gated activation."""

    def __init__(self, arch: Architecture, d_ff: int):
        super().__init__()
        bias = arch.has_mlp_bias
        self.act = activation_fn(arch)
        self.unit = gated_unit(arch) if arch.gated_mlp else None
        self.gate_proj = Linear(arch.d_model, d_ff, bias) if arch.gated_mlp else None
        self.up_proj = Linear(arch.d_model, d_ff, bias)
        self.down_proj = Linear(d_ff, arch.d_model, bias, Role.residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate_proj is None:
            return self.down_proj(self.act(self.up_proj(x)))
        return self.down_proj(self.unit(self.gate_proj(x), self.up_proj(x)))
