"""QK-norm: where a layer normalises its queries and keys, and with what weights.

The layer plan names the stage (zoo.plan.QKNormStage); this module is the only code that acts on it:
- projection: before RoPE, a learned norm over each token's whole query (key) projection, all heads at once
  (OLMo 2);
- head: before RoPE, a learned norm over each head's dims, one weight shared by the heads (Qwen 3, Gemma 3) or
  one per head (Command R+, `qk_norm = "head_unshared"`);
- rotated: after RoPE, a weightless RMS norm over each head's dims (LLaMA 4, RoPE layers only).
Weight names: `qk_norm.q_norm`, `qk_norm.k_norm` (norms of the block's kind); none for `rotated`.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from builder.network.norms import HeadwiseNorm, make_norm
from zoo.plan import QKNormStage
from zoo.schema import Architecture, QKNorm as QKNormKind


class QKNorm(nn.Module):
    """Query and key normalisation at one stage; `before_rope` and `after_rope` pass q and k through
    unchanged unless the stage is theirs. Inputs are split into heads: q [B, heads, T, head_dim],
    k [B, kv_heads, S, head_dim]."""

    def __init__(self, arch: Architecture, stage: QKNormStage | None):
        super().__init__()
        self.stage, self.eps, self.head_dim = stage, arch.norm_eps, arch.head_dim
        self.q_norm = self.k_norm = None
        if stage is QKNormStage.projection:
            self.q_norm = make_norm(arch, arch.n_heads * arch.head_dim)
            self.k_norm = make_norm(arch, arch.n_kv_heads * arch.head_dim)
        elif stage is QKNormStage.head and arch.qk_norm is QKNormKind.head_unshared:
            self.q_norm, self.k_norm = HeadwiseNorm(arch, arch.n_heads), HeadwiseNorm(arch, arch.n_kv_heads)
        elif stage is QKNormStage.head:
            self.q_norm, self.k_norm = make_norm(arch, arch.head_dim), make_norm(arch, arch.head_dim)

    def before_rope(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stage is QKNormStage.projection:
            return _over_heads(self.q_norm, q), _over_heads(self.k_norm, k)
        if self.stage is QKNormStage.head:
            return self.q_norm(q), self.k_norm(k)
        return q, k

    def after_rope(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stage is QKNormStage.rotated:
            return F.rms_norm(q, (self.head_dim,), eps=self.eps), F.rms_norm(k, (self.head_dim,), eps=self.eps)
        return q, k


def _over_heads(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A norm over all heads of a token at once: [B, heads, T, D] -> [B, T, heads * D] -> norm -> back."""
    batch, heads, length, head_dim = x.shape
    flat = x.transpose(1, 2).reshape(batch, length, heads * head_dim)
    return norm(flat).reshape(batch, length, heads, head_dim).transpose(1, 2)
