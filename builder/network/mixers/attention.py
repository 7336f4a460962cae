"""Multi-head softmax attention (MHA / MQA / GQA), self- or cross-, as its layer plan describes it.

The plan (zoo.plan.AttentionPlan) decides the mask, positions, query scale and temperature and the QK-norm
stage; this module projects, normalises (qk_norm.py), rotates (rotary.py), adds position biases
(relative.py, or Transformer-XL's term here) and hands q, k, v to one of three backends (backends.py).

Weight names: `q_proj`, `k_proj`, `v_proj`, `o_proj` (q/k/v biased when qkv_bias, o when linear_bias), `sinks`
([n_heads], gpt-oss's per-head sink logits),
`qk_norm.q_norm` / `qk_norm.k_norm`, and for Transformer-XL positions `pos_proj` (bias-free,
d_model -> n_heads * head_dim) with the per-head content and position biases `pos_bias_u`, `pos_bias_v`
([n_heads, head_dim]).
"""

from __future__ import annotations

import torch
from torch import nn

from builder.network.cache import LayerCache
from builder.network.init import Init, Initialised, Linear, Role
from builder.network.mixers.backends import ATTENTION_BACKENDS, DenseBias, check_backend
from builder.network.mixers.inputs import StackInputs
from builder.network.mixers.masks import MaskSpec
from builder.network.mixers.qk_norm import QKNorm
from builder.network.positions import sinusoidal_table
from builder.network.rotary import apply_rotary
from zoo.plan import AttentionPlan
from zoo.schema import Architecture, Position


class SoftmaxMixer(nn.Module, Initialised):
    """What every softmax-attention mixer shares: its plan, soft-cap and which backend runs its kernel."""

    def __init__(self, arch: Architecture, plan: AttentionPlan):
        super().__init__()
        self.plan = plan
        self.softcap = arch.attn_softcap
        self.backend = "auto"

    def init_weights(self, init: Init) -> None:
        pass

    def set_backend(self, backend: str) -> None:
        """Run on one backend ('eager', 'sdpa', 'flex') or let `auto` pick per device."""
        check_backend(backend, self.softcap)
        self.backend = backend

    def resolved_backend(self, device_type: str) -> str:
        """The backend this layer runs on a device type under its current setting."""
        if self.backend != "auto":
            return self.backend
        needs_scores = self.plan.position in (Position.alibi, Position.relative_bias, Position.xl_relative)
        if device_type == "cuda":
            plain = self.softcap is None and not needs_scores and self.plan.local is None
            return "sdpa" if plain else "flex"
        return "eager" if self.softcap is not None else "sdpa"

    def attend(self, q, k, v, inputs: StackInputs, k_pos, key_valid, source, bias=None, sinks=None) -> torch.Tensor:
        """The backend's attention of q over k, v under the plan's mask (and per-head sink logits that join each
        softmax's denominator): [B, heads, Tq, v width]."""
        plan = self.plan
        mask = MaskSpec(inputs.positions, k_pos, plan.causal, plan.local, plan.window, key_valid, inputs.masks, source)
        backend = ATTENTION_BACKENDS[self.resolved_backend(q.device.type)]
        return backend(q, k, v, plan.scale, mask, bias, self.softcap, sinks)


class Attention(SoftmaxMixer):
    """Self-attention of one planned layer, or cross-attention to the encoder output."""

    def __init__(self, arch: Architecture, plan: AttentionPlan):
        super().__init__(arch, plan)
        self.n_heads, self.n_kv_heads, self.head_dim = arch.n_heads, arch.n_kv_heads, arch.head_dim
        q_width, kv_width = arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
        self.q_proj = Linear(arch.d_model, q_width, arch.qkv_bias)
        self.k_proj = Linear(arch.d_model, kv_width, arch.qkv_bias)
        self.v_proj = Linear(arch.d_model, kv_width, arch.qkv_bias)
        self.o_proj = Linear(q_width, arch.d_model, arch.linear_bias, Role.residual)
        self.qk_norm = QKNorm(arch, plan.qk_norm)
        self.clip = arch.clip_qkv
        self.pos_proj = self.pos_bias_u = self.pos_bias_v = None
        if plan.position is Position.xl_relative:
            self.pos_proj = Linear(arch.d_model, q_width, bias=False)
            self.pos_bias_u = nn.Parameter(torch.empty(arch.n_heads, arch.head_dim))
            self.pos_bias_v = nn.Parameter(torch.empty(arch.n_heads, arch.head_dim))
        self.sinks = nn.Parameter(torch.empty(arch.n_heads)) if arch.attention_sinks and not plan.cross else None

    def init_weights(self, init: Init) -> None:
        if self.pos_bias_u is not None:
            nn.init.zeros_(self.pos_bias_u)
            nn.init.zeros_(self.pos_bias_v)
        if self.sinks is not None:
            nn.init.zeros_(self.sinks)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """A q, k or v projection [B, T, heads * head_dim] -> [B, heads, T, head_dim], clamped to +-clip_qkv where
        the spec says (OLMo); the heads are however many the projection gave (all, or a tensor-parallel share)."""
        if self.clip is not None:
            x = x.clamp(-self.clip, self.clip)
        return x.unflatten(-1, (-1, self.head_dim)).transpose(1, 2)

    def _keys_and_values(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._heads(self.k_proj(source)), self._heads(self.v_proj(source))

    def _temperature(self, q: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """LLaMA 4's NoPE-layer query scaling: 1 + scale * log(1 + floor((pos + 1) / floor_scale)).

        pos is the token's position in its row ([B or 1, Tq]), so padding does not change a row's scaling;
        transformers counts columns here instead (its left-padded rows are scaled as if padding were text)."""
        temperature = self.plan.temperature
        factor = torch.log1p(torch.floor((positions.float() + 1.0) / temperature.floor_scale)) * temperature.scale + 1.0
        return (q * factor[:, None, :, None]).to(q.dtype)

    def _xl_bias(self, q, k, q_pos, k_pos):
        """Transformer-XL's content bias u.k and position term (q + v).W_r R(q - k), already scaled, dense.

        Positions the model derives lie in [0, reach], reach = max(Tq, Tk) - 1, so one table of the distances
        -reach .. reach (sized by shapes alone, no host sync) holds every q - k."""
        batch, heads, q_len, head_dim = q.shape
        groups = heads // self.n_kv_heads
        u = self.pos_bias_u.to(q.dtype).reshape(self.n_kv_heads, groups, head_dim)
        content = torch.einsum("hgd,bhkd->bhgk", u, k).reshape(batch, heads, 1, k.shape[2])
        distance = q_pos[:, :, None] - k_pos[:, None, :]  # [B or 1, Tq, Tk]
        reach = max(q_len, k.shape[2]) - 1
        span = torch.arange(-reach, reach + 1, device=q.device)  # [L = 2 * reach + 1]
        relative = self.pos_proj(sinusoidal_table(span, self.pos_proj.in_features, interleaved=False).to(q.dtype))
        relative = relative.reshape(span.shape[0], heads, head_dim).transpose(0, 1)  # [heads, L, head_dim]
        by_distance = (q + self.pos_bias_v.to(q.dtype)[None, :, None, :]) @ relative.transpose(-1, -2)[None]
        index = (distance + reach).clamp(0, 2 * reach)[:, None].expand(batch, heads, q_len, k.shape[2])
        return DenseBias((content + torch.gather(by_distance, -1, index)) * self.plan.scale)

    def _bias(self, q, k, inputs: StackInputs, k_pos):
        if self.plan.position in (Position.alibi, Position.relative_bias):
            return inputs.bias(inputs.positions, k_pos)
        if self.plan.position is Position.xl_relative:
            return self._xl_bias(q, k, inputs.positions, k_pos)
        return None

    def forward(self, x: torch.Tensor, inputs: StackInputs, cache: LayerCache | None = None) -> torch.Tensor:
        plan = self.plan
        q = self._heads(self.q_proj(x))
        if plan.cross:  # the encoder output's keys and values, projected once per generation
            if cache is None or cache.cross_kv is None:
                k, v = self._keys_and_values(inputs.memory)
                if cache is not None:
                    cache.cross_kv = (k, v)
            else:
                k, v = cache.cross_kv
            k_pos, key_valid = inputs.memory_positions, inputs.memory_valid
        else:
            k, v = self._keys_and_values(x)
            k_pos, key_valid = inputs.positions, inputs.key_valid
        q, k = self.qk_norm.before_rope(q, k)
        if plan.rope is not None:
            cos, sin = inputs.rope[plan.rope.key]
            q, k = apply_rotary(q, cos, sin, plan.rope.layout), apply_rotary(k, cos, sin, plan.rope.layout)
        q, k = self.qk_norm.after_rope(q, k)
        if plan.temperature is not None:
            q = self._temperature(q, inputs.positions)
        source = "memory" if plan.cross else "stack"
        if cache is not None and not plan.cross:
            if cache.length:  # later steps attend over this layer's cached keys
                source = ("cache", cache.index)
            k, v, k_pos, key_valid = cache.update(k, v, k_pos, key_valid)
        out = self.attend(q, k, v, inputs, k_pos, key_valid, source, self._bias(q, k, inputs, k_pos), self.sinks)
        return self.o_proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))
