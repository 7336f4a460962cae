"""Multi-head latent attention (DeepSeek-V2/V3, Kimi K2), as its layer plan describes it.

Queries come from a full-rank projection or a low-rank one (down to q_lora_rank, normalised, up). Keys and
values come from one latent per token: `kv_a_proj` gives the latent (kv_lora_rank, then normalised) and a
RoPE key of qk_rope_head_dim that every head shares; `kv_b_proj` up-projects the latent to each head's
position-free key part (qk_nope_head_dim) and value (v_head_dim). The KV cache holds the latent and the
rotated shared key, not per-head keys and values; each step up-projects what is cached.

Weight names: `q_proj`, or `q_a_proj`, `q_a_norm`, `q_b_proj`; `kv_a_proj`, `kv_a_norm`, `kv_b_proj`, `o_proj`.
"""

from __future__ import annotations

import torch

from builder.network.cache import LayerCache
from builder.network.init import Linear, Role
from builder.network.mixers.attention import SoftmaxMixer
from builder.network.mixers.inputs import StackInputs
from builder.network.norms import make_norm
from builder.network.rotary import apply_rotary
from zoo.plan import AttentionPlan
from zoo.schema import Architecture


class LatentAttention(SoftmaxMixer):
    """Self-attention through a compressed key-value latent and a shared RoPE key."""

    def __init__(self, arch: Architecture, plan: AttentionPlan):
        super().__init__(arch, plan)
        m = arch.mla
        self.nope, self.rope, self.v_dim, self.latent = m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim, m.kv_lora_rank
        q_width = arch.n_heads * arch.head_dim
        if m.q_lora_rank is None:
            self.q_proj = Linear(arch.d_model, q_width, bias=False)
        else:
            self.q_a_proj = Linear(arch.d_model, m.q_lora_rank, bias=False)
            self.q_a_norm = make_norm(arch, m.q_lora_rank)
            self.q_b_proj = Linear(m.q_lora_rank, q_width, bias=False)
        self.kv_a_proj = Linear(arch.d_model, m.kv_lora_rank + m.qk_rope_head_dim, bias=False)
        self.kv_a_norm = make_norm(arch, m.kv_lora_rank)
        self.kv_b_proj = Linear(m.kv_lora_rank, arch.n_heads * (m.qk_nope_head_dim + m.v_head_dim), bias=False)
        self.o_proj = Linear(arch.n_heads * m.v_head_dim, arch.d_model, bias=False, role=Role.residual)

    def _queries(self, x: torch.Tensor) -> torch.Tensor:
        q = self.q_proj(x) if hasattr(self, "q_proj") else self.q_b_proj(self.q_a_norm(self.q_a_proj(x)))
        return q.unflatten(-1, (-1, self.nope + self.rope)).transpose(1, 2)  # [B, heads, T, nope + rope]

    def forward(self, x: torch.Tensor, inputs: StackInputs, cache: LayerCache | None = None) -> torch.Tensor:
        plan = self.plan
        q_pass, q_rot = self._queries(x).split([self.nope, self.rope], dim=-1)
        latent, k_rot = self.kv_a_proj(x).split([self.latent, self.rope], dim=-1)
        latent, k_rot = self.kv_a_norm(latent)[:, None], k_rot[:, None]  # [B, 1, T, latent], [B, 1, T, rope]
        cos, sin = inputs.rope[plan.rope.key]
        q_rot, k_rot = apply_rotary(q_rot, cos, sin, plan.rope.layout), apply_rotary(k_rot, cos, sin, plan.rope.layout)
        k_pos, key_valid, source = inputs.positions, inputs.key_valid, "stack"
        if cache is not None:
            if cache.length:  # later steps attend over this layer's cached latents
                source = ("cache", cache.index)
            latent, k_rot, k_pos, key_valid = cache.update(latent, k_rot, k_pos, key_valid)
        keys_values = self.kv_b_proj(latent[:, 0]).unflatten(-1, (-1, self.nope + self.v_dim)).transpose(1, 2)
        k_pass, v = keys_values.split([self.nope, self.v_dim], dim=-1)  # [B, heads, Tk, nope], [B, heads, Tk, v]
        k = torch.cat((k_pass, k_rot.expand(-1, k_pass.shape[1], -1, -1)), dim=-1)
        out = self.attend(torch.cat((q_pass, q_rot), dim=-1), k, v, inputs, k_pos, key_valid, source)
        return self.o_proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))
