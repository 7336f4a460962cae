"""Multi-head latent attention (DeepSeek-V2/V3, Kimi K2), as its layer plan describes it.

Queries come from a full-rank projection or a low-rank one (down to q_lora_rank, normalised, up). Keys and
values come from one latent per token: `kv_a_proj` gives the latent (kv_lora_rank, then normalised) and a
RoPE key of qk_rope_head_dim that every head shares; `kv_b_proj` up-projects the latent to each head's
position-free key part (qk_nope_head_dim) and value (v_head_dim). The KV cache holds the latent and the
rotated shared key, not per-head keys and values. A decode step attends in latent space instead of
up-projecting every cached latent: kv_b_proj's key rows fold into each head's query and its value rows apply
after the softmax (the weight absorption of DeepSeek-V2 section 2.1.2), so the step reads the cache once.

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


# DeepSeek's reference code and transformers build both latent norms with RMSNorm's default epsilon, whatever
# epsilon the block norms use (inference/model.py: RMSNorm(q_lora_rank), RMSNorm(kv_lora_rank))
LATENT_NORM_EPS = 1e-6


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
            self.q_a_norm = make_norm(arch, m.q_lora_rank, LATENT_NORM_EPS)
            self.q_b_proj = Linear(m.q_lora_rank, q_width, bias=False)
        self.kv_a_proj = Linear(arch.d_model, m.kv_lora_rank + m.qk_rope_head_dim, bias=False)
        self.kv_a_norm = make_norm(arch, m.kv_lora_rank, LATENT_NORM_EPS)
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
        k_pos, key_valid, source, decoding = inputs.positions, inputs.key_valid, "stack", False
        if cache is not None:
            if cache.length:  # later steps attend over this layer's cached latents
                source, decoding = ("cache", cache.index), True
            latent, k_rot, k_pos, key_valid = cache.update(latent, k_rot, k_pos, key_valid)
        if decoding:
            out = self._attend_in_latent_space(q_pass, q_rot, latent, k_rot, inputs, k_pos, key_valid, source)
        else:
            keys_values = self.kv_b_proj(latent[:, 0]).unflatten(-1, (-1, self.nope + self.v_dim)).transpose(1, 2)
            k_pass, v = keys_values.split([self.nope, self.v_dim], dim=-1)  # [B, heads, Tk, nope], [B, heads, Tk, v]
            k = torch.cat((k_pass, k_rot.expand(-1, k_pass.shape[1], -1, -1)), dim=-1)
            out = self.attend(torch.cat((q_pass, q_rot), dim=-1), k, v, inputs, k_pos, key_valid, source)
        return self.o_proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))

    def _attend_in_latent_space(self, q_pass, q_rot, latent, k_rot, inputs, k_pos, key_valid, source) -> torch.Tensor:
        """The same attention with kv_b_proj absorbed: q_pass . (W_k c) = (q_pass W_k) . c, so every head attends
        over the shared [latent; RoPE key] (one key head), and W_v maps the averaged latent to the value width."""
        weight = self.kv_b_proj.weight.unflatten(0, (-1, self.nope + self.v_dim))  # [heads, nope + v, latent]
        w_k, w_v = weight.split([self.nope, self.v_dim], dim=1)  # [heads, nope, latent], [heads, v, latent]
        q = torch.cat((q_pass @ w_k, q_rot), dim=-1)  # [B, heads, Tq, latent + rope]
        k = torch.cat((latent, k_rot), dim=-1)  # [B, 1, Tk, latent + rope]
        out = self.attend(q, k, latent, inputs, k_pos, key_valid, source)  # [B, heads, Tq, latent]
        return out @ w_v.transpose(1, 2)  # [B, heads, Tq, v]
