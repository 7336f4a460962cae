"""One transformer layer built from its LayerPlan entry: token mixer, optional cross-attention, MLP or MoE, norms.

Norm names per sublayer s in {attn, cross_attn, mlp}: `{s}_norm` normalises the sublayer input (pre,
double) or the residual sum (post); `{s}_out_norm` normalises the sublayer output before the add (double,
reordered). A parallel block has `attn_norm` only (shared) or `attn_norm` and `mlp_norm`.
"""

from __future__ import annotations

import torch
from torch import nn

from builder.network.cache import LayerCache
from builder.network.mixers import make_mixer
from builder.network.mixers.inputs import StackInputs
from builder.network.mlp import MLP
from builder.network.moe import MoE
from builder.network.norms import make_norm
from zoo.plan import LayerPlan
from zoo.schema import Architecture, NormPosition

# Norm slots each position uses around a sublayer.
NORM_SLOTS = {
    NormPosition.pre: ("norm",),
    NormPosition.post: ("norm",),
    NormPosition.double: ("norm", "out_norm"),
    NormPosition.reordered: ("out_norm",),
}


def _pre(block, x, name, sublayer):
    return x + block.branch(sublayer(getattr(block, f"{name}_norm")(x)))


def _post(block, x, name, sublayer):
    return getattr(block, f"{name}_norm")(x + block.branch(sublayer(x)))


def _double(block, x, name, sublayer):
    return x + block.branch(getattr(block, f"{name}_out_norm")(sublayer(getattr(block, f"{name}_norm")(x))))


def _reordered(block, x, name, sublayer):
    return x + block.branch(getattr(block, f"{name}_out_norm")(sublayer(x)))


RESIDUALS = {NormPosition.pre: _pre, NormPosition.post: _post, NormPosition.double: _double, NormPosition.reordered: _reordered}


class Block(nn.Module):
    """Serial: x -> attention -> [cross-attention] -> MLP, each wrapped per norm_position; or parallel:
    x + attention(norm(x)) + MLP(norm'(x))."""

    def __init__(self, arch: Architecture, plan: LayerPlan):
        super().__init__()
        self.plan = plan
        self.parallel = arch.parallel_block
        self.residual = RESIDUALS[arch.norm_position]
        self.attention = make_mixer(arch, plan.attention)
        self.cross_attention = make_mixer(arch, plan.cross_attention) if plan.cross_attention is not None else None
        self.mlp = MoE(arch) if plan.moe else MLP(arch, arch.d_ff)
        self.dropout = nn.Dropout(arch.dropout)
        self.residual_multiplier = arch.residual_multiplier
        if self.parallel:
            self.attn_norm = make_norm(arch, arch.d_model)
            self.mlp_norm = None if arch.parallel_shared_norm else make_norm(arch, arch.d_model)
            return
        sublayers = ("attn", "cross_attn", "mlp") if self.cross_attention is not None else ("attn", "mlp")
        for sublayer in sublayers:
            for slot in NORM_SLOTS[arch.norm_position]:
                setattr(self, f"{sublayer}_{slot}", make_norm(arch, arch.d_model))

    def branch(self, y: torch.Tensor) -> torch.Tensor:
        """A sublayer's output as the residual stream receives it: dropout, then the residual multiplier."""
        y = self.dropout(y)
        return y if self.residual_multiplier == 1.0 else y * self.residual_multiplier

    def forward(self, x: torch.Tensor, inputs: StackInputs, cache: LayerCache | None = None) -> torch.Tensor:
        if self.parallel:
            attn_in = self.attn_norm(x)
            mlp_in = attn_in if self.mlp_norm is None else self.mlp_norm(x)
            return x + self.branch(self.attention(attn_in, inputs, cache)) + self.branch(self.mlp(mlp_in))
        x = self.residual(self, x, "attn", lambda h: self.attention(h, inputs, cache))
        if self.cross_attention is not None:
            x = self.residual(self, x, "cross_attn", lambda h: self.cross_attention(h, inputs, cache))
        return self.residual(self, x, "mlp", self.mlp)
