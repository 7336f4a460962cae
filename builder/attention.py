"""Multi-head attention (MHA / MQA / GQA) with masks, position biases, soft-capping and three backends.

Weight names: `q_proj`, `k_proj`, `v_proj`, `o_proj` (nn.Linear; q/k/v biased when qkv_bias, o when
linear_bias), `q_norm` / `k_norm` (qk_norm 'head': over head_dim; 'projection': over the whole projection),
and for Transformer-XL positions `pos_proj` (bias-free nn.Linear(d_model, n_heads * head_dim)) with the
per-head content and position biases `pos_bias_u`, `pos_bias_v` ([n_heads, head_dim]).

Backends: `eager` is the explicit-softmax reference; `sdpa` is F.scaled_dot_product_attention with
enable_gqa (no repeated K/V) and an additive mask for windows, padding and biases; `flex` is flex_attention
with a block mask built from the same mask function and a score_mod for biases and soft-capping (compiled on
CUDA). `auto` picks sdpa for what it can express, flex on CUDA for the rest, eager on CPU for soft-capping.

Biases reach the backends as objects with two forms: dense() [B or 1, heads, Tq, Tk] for eager and SDPA, and
score(b, h, q_idx, kv_idx) for flex's score_mod (ALiBi and T5 compute theirs from tiny tensors, see
builder.positions.DistanceBias; Transformer-XL's is a `DenseBias`). Flex block masks are built once per forward
per distinct mask and shared by the layers of a stack (`BlockMasks`, held by StackInputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
import torch.nn.functional as F

from builder.norms import HeadwiseNorm, make_norm
from builder.plan import LayerPlan
from builder.positions import apply_rotary, sinusoidal_table
from zoo.schema import Architecture, LocalAttention, Position, QKNorm, QueryScale

BACKENDS = ("auto", "eager", "sdpa", "flex")


@dataclass
class MaskSpec:
    """Which keys each query may see, from token positions: causal, window or chunk, and key padding.

    Positions are per row ([B or 1, T]; a 1-D [T] is shared by every row), so a left-padded row's windows and
    chunks start at its first real token, as transformers' chunked mask does. Causal order by position equals
    column order for every real token; padding keys are excluded by key_valid.
    """

    q_pos: torch.Tensor  # [B or 1, Tq] (or [Tq])
    k_pos: torch.Tensor  # [B or 1, Tk] (or [Tk])
    causal: bool
    local: LocalAttention | None = None
    window: int | None = None
    key_valid: torch.Tensor | None = None  # [B, Tk] bool, False for padding
    block_masks: BlockMasks | None = None  # the stack's per-forward flex block masks (None: build one per call)

    def __post_init__(self):
        """Positions as [batch, T] views, batch being the most rows any of positions and padding has."""
        self.sources = (self.q_pos, self.k_pos, self.key_valid)  # the tensors given, which `key` identifies
        q_pos, k_pos = torch.atleast_2d(self.q_pos), torch.atleast_2d(self.k_pos)
        self.batch = max(q_pos.shape[0], k_pos.shape[0], 1 if self.key_valid is None else self.key_valid.shape[0])
        self.q_pos, self.k_pos = q_pos.expand(self.batch, -1), k_pos.expand(self.batch, -1)

    def mask_mod(self, b, h, q_idx, kv_idx):
        """flex_attention's mask function; with broadcast index tensors it also builds the dense mask."""
        row = b if self.batch > 1 else 0  # flex may ask for any batch index of a mask shared by every row
        q, k = self.q_pos[row, q_idx], self.k_pos[row, kv_idx]
        allowed = k <= q if self.causal else k >= k
        if self.local is LocalAttention.sliding:
            allowed = allowed & (k > q - self.window)
        elif self.local is LocalAttention.chunked:
            allowed = allowed & (torch.div(k, self.window, rounding_mode="floor") == torch.div(q, self.window, rounding_mode="floor"))
        if self.key_valid is not None:
            allowed = allowed & self.key_valid[b, kv_idx]
        return allowed

    @property
    def key(self) -> tuple:
        """What tells masks apart within one forward: the flags, and the identity of the position and padding
        tensors (the layers of a stack pass the same ones; shapes, device and batch follow from them)."""
        return (self.causal, self.local, self.window, *(id(tensor) for tensor in self.sources))

    @property
    def restricts(self) -> bool:
        return self.causal or self.local is not None or self.key_valid is not None

    @property
    def plain_causal(self) -> bool:
        """Square causal mask from position 0: SDPA's is_causal expresses it without a mask tensor."""
        return (
            self.causal
            and self.local is None
            and self.key_valid is None
            and self.q_pos.shape[1] == self.k_pos.shape[1]
        )

    def dense(self) -> torch.Tensor:
        """Boolean [B or 1, 1, Tq, Tk]."""
        device = self.q_pos.device
        b = torch.arange(self.batch, device=device)[:, None, None, None]
        q_idx = torch.arange(self.q_pos.shape[1], device=device)[None, None, :, None]
        kv_idx = torch.arange(self.k_pos.shape[1], device=device)[None, None, None, :]
        return self.mask_mod(b, 0, q_idx, kv_idx)


def _softcap(scores: torch.Tensor, cap: float) -> torch.Tensor:
    return torch.tanh(scores / cap) * cap


def eager_attention(q, k, v, scale, mask: MaskSpec, bias, softcap):
    """Reference: explicit logits, bias, soft-cap, mask and float32 softmax; K/V groups broadcast, not copied."""
    batch, heads, q_len, head_dim = q.shape
    kv_heads, k_len = k.shape[1], k.shape[2]
    grouped = q.reshape(batch, kv_heads, heads // kv_heads, q_len, head_dim)
    scores = (grouped @ k.unsqueeze(2).transpose(-1, -2)).reshape(batch, heads, q_len, k_len) * scale
    if bias is not None:
        scores = scores + bias.dense()
    if softcap is not None:
        scores = _softcap(scores, softcap)
    if mask.restricts:
        scores = scores.masked_fill(~mask.dense(), torch.finfo(scores.dtype).min)
    probs = scores.float().softmax(-1).to(q.dtype)
    out = probs.reshape(batch, kv_heads, heads // kv_heads, q_len, k_len) @ v.unsqueeze(2)
    return out.reshape(batch, heads, q_len, head_dim)


def sdpa_attention(q, k, v, scale, mask: MaskSpec, bias, softcap):
    """F.scaled_dot_product_attention with enable_gqa; windows, padding and biases as one additive mask."""
    if softcap is not None:
        raise ValueError("the sdpa backend cannot soft-cap attention logits; use eager or flex")
    if bias is None and (mask.plain_causal or not mask.restricts):
        return F.scaled_dot_product_attention(q, k, v, is_causal=mask.causal, scale=scale, enable_gqa=True)
    additive = torch.zeros((), dtype=q.dtype, device=q.device)
    if mask.restricts:
        allowed = mask.dense()
        additive = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, torch.finfo(q.dtype).min)
    if bias is not None:
        additive = additive + bias.dense().to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=additive, scale=scale, enable_gqa=True)


_compiled_flex = None


def _flex_function(device: torch.device):
    """flex_attention, compiled once on CUDA (its fast path); the uncompiled reference elsewhere."""
    global _compiled_flex
    from torch.nn.attention.flex_attention import flex_attention

    if device.type != "cuda":
        return flex_attention
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention, dynamic=False)
    return _compiled_flex


class BlockMasks:
    """The flex block masks of one forward of one stack: each distinct mask built once, shared by its layers.

    create_block_mask evaluates the mask function over the whole score matrix, so building it per layer repeats
    that work n_layers times for what is, within a forward, one mask per kind of layer (Gemma 2's alternating
    local and global layers need two). Masks are told apart by MaskSpec.key; each entry keeps the tensors the key
    identifies alive, so their ids cannot be reused by other tensors while the cache lives. A stack's StackInputs
    owns one, so it lasts exactly one forward. With a KV cache, steps after the first attend over each layer's
    own cached positions, so there every layer still builds its own mask.
    """

    def __init__(self):
        self._built: dict[tuple, tuple] = {}

    def get(self, mask: MaskSpec):
        """The BlockMask of `mask`, built on first request."""
        if mask.key not in self._built:
            self._built[mask.key] = (_create_block_mask(mask), mask.sources)
        return self._built[mask.key][0]


def _create_block_mask(mask: MaskSpec):
    """flex's BlockMask of one MaskSpec (batch None: one mask that every row shares)."""
    from torch.nn.attention.flex_attention import create_block_mask

    batch = None if mask.batch == 1 else mask.batch
    mask_mod = lambda b, h, q_idx, kv_idx: mask.mask_mod(b, h, q_idx, kv_idx)  # noqa: E731 (a plain function)
    return create_block_mask(mask_mod, batch, None, mask.q_pos.shape[1], mask.k_pos.shape[1], device=mask.q_pos.device)


class DenseBias:
    """A bias already materialised as [B or 1, heads, Tq, Tk], in the two forms the backends read.

    Transformer-XL's position term is one: it depends on the query vectors, so its smallest exact form per
    (query, distance) is [B, heads, Tq, Tq + Tk - 1], larger than the dense bias itself.
    """

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    def dense(self) -> torch.Tensor:
        return self.tensor

    def score(self, b, h, q_idx, kv_idx):
        return self.tensor[b if self.tensor.shape[0] > 1 else 0, h, q_idx, kv_idx]


def flex_attention_backend(q, k, v, scale, mask: MaskSpec, bias, softcap):
    """flex_attention: the block mask of MaskSpec.mask_mod (shared through mask.block_masks), and a score_mod
    adding the bias's per-score term, rounded to q's dtype as the dense bias is, and soft-capping."""
    block_mask = None
    if mask.restricts:
        block_mask = (mask.block_masks if mask.block_masks is not None else BlockMasks()).get(mask)
    score_mod = None
    if bias is not None or softcap is not None:
        dtype = q.dtype

        def score_mod(score, b, h, q_idx, kv_idx):
            if bias is not None:
                score = score + bias.score(b, h, q_idx, kv_idx).to(dtype)
            if softcap is not None:
                score = _softcap(score, softcap)
            return score

    flex = _flex_function(q.device)
    return flex(q, k, v, score_mod=score_mod, block_mask=block_mask, scale=scale, enable_gqa=True)


ATTENTION_BACKENDS = {"eager": eager_attention, "sdpa": sdpa_attention, "flex": flex_attention_backend}

QUERY_SCALES = {
    QueryScale.head_dim: lambda arch: arch.head_dim**-0.5,
    QueryScale.d_model_over_heads: lambda arch: (arch.d_model / arch.n_heads) ** -0.5,
    QueryScale.none: lambda arch: 1.0,
}


class LayerCache:
    """One self-attention layer's keys (after RoPE) and values, preallocated and written in place.

    Slots are indexed by column, not position: every row writes its t-th token (padding included) at column t,
    so the rows of a left-padded batch share one write index, and each slot keeps its token's position and
    padding flag, which is all the mask reads (unwritten slots are flagged as padding).

    A global layer holds `capacity` columns (the prompt and every token to be fed after it) and a step attends
    over all of them, so every decode step sees the same shapes and nothing is copied but the new keys.
    A local layer (sliding window or chunk of w tokens) holds a ring of the last w - 1 columns, all that a later
    query of any row can see (a row's real tokens are consecutive columns), and a step attends over the ring
    followed by its own keys, which it then writes over the oldest columns; a ring written before attending
    would lose keys that the earlier queries of a multi-token step still see.
    The first step attends over its own keys alone: nothing is cached yet, so a prompt runs exactly as it
    would without a cache (SDPA's causal fast path included).
    """

    def __init__(self, capacity: int, window: int | None = None):
        self.ring = window is not None
        self.slots = min(capacity, max(window - 1, 1)) if self.ring else capacity  # a window of 1 keeps 1 (masked)
        self.length = 0  # columns written so far, the same for every row
        self.k: torch.Tensor | None = None  # [B, kv_heads, slots, head_dim]
        self.v: torch.Tensor | None = None
        self.positions: torch.Tensor | None = None  # [B, slots]
        self.key_valid: torch.Tensor | None = None  # [B, slots], False for padding and unwritten slots
        self.cross_kv: tuple[torch.Tensor, torch.Tensor] | None = None  # cross-attention K/V of the encoder output

    def update(self, k, v, positions, key_valid):
        """Store one step's keys and values [B, kv_heads, T, head_dim], positions [B or 1, T] and padding
        [B, T] (None: none); returns the keys, values, positions and padding the step's queries attend over."""
        batch, steps = k.shape[0], k.shape[2]
        if not self.ring and self.length + steps > self.slots:
            raise ValueError(f"the KV cache holds {self.slots} tokens per row; this step would make it "
                             f"{self.length + steps} (size it with new_cache(max_length))")
        if self.k is None:
            shape = (batch, k.shape[1], self.slots, k.shape[3])
            self.k, self.v = k.new_zeros(shape), v.new_zeros(shape)
            self.positions = torch.zeros(batch, self.slots, dtype=positions.dtype, device=k.device)
            self.key_valid = torch.zeros(batch, self.slots, dtype=torch.bool, device=k.device)
        first = self.length == 0
        positions = positions.expand(batch, -1)
        valid = torch.ones(batch, steps, dtype=torch.bool, device=k.device) if key_valid is None else key_valid
        if self.ring and not first:
            attended = (torch.cat((self.k, k), dim=2), torch.cat((self.v, v), dim=2),
                        torch.cat((self.positions, positions), dim=1), torch.cat((self.key_valid, valid), dim=1))
        self._write(k, v, positions, valid)
        if first:
            return k, v, positions, key_valid
        return attended if self.ring else (self.k, self.v, self.positions, self.key_valid)

    def _write(self, k, v, positions, valid) -> None:
        """Write the step's columns in place (a ring keeps only its last `slots` of them)."""
        steps = k.shape[2]
        kept = min(steps, self.slots)
        columns = torch.arange(self.length + steps - kept, self.length + steps, device=k.device) % self.slots
        self.k.index_copy_(2, columns, k[:, :, steps - kept:])
        self.v.index_copy_(2, columns, v[:, :, steps - kept:])
        self.positions.index_copy_(1, columns, positions[:, steps - kept:])
        self.key_valid.index_copy_(1, columns, valid[:, steps - kept:])
        self.length += steps

    def bytes_per_token(self) -> int:
        """Bytes of keys and values one token of one row occupies here (0 before the first step)."""
        if self.k is None:
            return 0
        return self.k[0, :, 0].numel() * self.k.element_size() + self.v[0, :, 0].numel() * self.v.element_size()


@dataclass
class StackInputs:
    """Per-forward inputs shared by the layers of one stack."""

    positions: torch.Tensor  # [B or 1, Tq] positions of the new tokens (see builder.positions.token_positions)
    key_valid: torch.Tensor | None  # [B, Tq] padding of the new tokens
    rope: dict = field(default_factory=dict)  # RopePlan.key -> (cos, sin), each [B or 1, 1, Tq, rotary_dim]
    bias: object = None  # callable(q_pos, k_pos) -> DistanceBias: ALiBi or T5 buckets
    memory: torch.Tensor | None = None  # encoder output for cross-attention
    memory_valid: torch.Tensor | None = None
    memory_positions: torch.Tensor | None = None  # [S] key positions of the encoder output
    block_masks: BlockMasks = field(default_factory=BlockMasks)  # this forward's flex block masks


class Attention(nn.Module):
    """Self-attention of one planned layer, or cross-attention to the encoder output."""

    def __init__(self, arch: Architecture, plan: LayerPlan, cross: bool = False):
        super().__init__()
        self.plan, self.cross = plan, cross
        self.n_heads, self.n_kv_heads, self.head_dim = arch.n_heads, arch.n_kv_heads, arch.head_dim
        q_width, kv_width = arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
        self.q_proj = nn.Linear(arch.d_model, q_width, bias=arch.qkv_bias)
        self.k_proj = nn.Linear(arch.d_model, kv_width, bias=arch.qkv_bias)
        self.v_proj = nn.Linear(arch.d_model, kv_width, bias=arch.qkv_bias)
        self.o_proj = nn.Linear(q_width, arch.d_model, bias=arch.linear_bias)
        self.qk_norm = arch.qk_norm
        self.q_norm = self.k_norm = None
        if arch.qk_norm is QKNorm.head:
            self.q_norm, self.k_norm = make_norm(arch, arch.head_dim), make_norm(arch, arch.head_dim)
        elif arch.qk_norm is QKNorm.head_unshared:
            self.q_norm, self.k_norm = HeadwiseNorm(arch, arch.n_heads), HeadwiseNorm(arch, arch.n_kv_heads)
        elif arch.qk_norm is QKNorm.projection:
            self.q_norm, self.k_norm = make_norm(arch, q_width), make_norm(arch, kv_width)
        self.norm_eps = arch.norm_eps
        nope_layer = arch.global_nope and plan.position is Position.none and not cross
        self.query_temperature = arch.nope_query_temperature if nope_layer else None
        self.scale = QUERY_SCALES[arch.query_scale](arch)
        self.softcap = arch.attn_softcap
        self.position = Position.none if cross else plan.position
        self.pos_proj = self.pos_bias_u = self.pos_bias_v = None
        if self.position is Position.xl_relative:
            self.pos_proj = nn.Linear(arch.d_model, q_width, bias=False)
            self.pos_bias_u = nn.Parameter(torch.empty(arch.n_heads, arch.head_dim))
            self.pos_bias_v = nn.Parameter(torch.empty(arch.n_heads, arch.head_dim))
        self.backend = "auto"

    def resolved_backend(self, device_type: str) -> str:
        """The backend this layer runs on a device type under its current setting."""
        if self.backend != "auto":
            return self.backend
        needs_scores = self.position in (Position.alibi, Position.relative_bias, Position.xl_relative)
        if device_type == "cuda":
            plain = self.softcap is None and not needs_scores and self.plan.local is None
            return "sdpa" if plain else "flex"
        return "eager" if self.softcap is not None else "sdpa"

    def _heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], heads, self.head_dim).transpose(1, 2)

    def _temperature(self, q: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """LLaMA 4's NoPE-layer query scaling: 1 + scale * log(1 + floor((pos + 1) / floor_scale)).

        pos is the token's position in its row ([B or 1, Tq]), so padding does not change a row's scaling;
        transformers counts columns here instead (its left-padded rows are scaled as if padding were text)."""
        temperature = self.query_temperature
        factor = torch.log1p(torch.floor((positions.float() + 1.0) / temperature.floor_scale)) * temperature.scale + 1.0
        return (q * factor[:, None, :, None]).to(q.dtype)

    def _project_kv(self, source: torch.Tensor):
        k, v = self.k_proj(source), self.v_proj(source)
        if self.qk_norm is QKNorm.projection:
            k = self.k_norm(k)
        k, v = self._heads(k, self.n_kv_heads), self._heads(v, self.n_kv_heads)
        if self.qk_norm in (QKNorm.head, QKNorm.head_unshared):
            k = self.k_norm(k)
        return k, v

    def _xl_bias(self, q, k, q_pos, k_pos):
        """Transformer-XL's content bias u.k and position term (q + v).W_r R(q - k), already scaled, dense."""
        batch, heads, q_len, head_dim = q.shape
        groups = heads // self.n_kv_heads
        u = self.pos_bias_u.to(q.dtype).reshape(self.n_kv_heads, groups, head_dim)
        content = torch.einsum("hgd,bhkd->bhgk", u, k).reshape(batch, heads, 1, k.shape[2])
        distance = q_pos[:, :, None] - k_pos[:, None, :]  # [B or 1, Tq, Tk]
        lowest = distance.min()
        span = torch.arange(int(lowest), int(distance.max()) + 1, device=q.device)
        relative = self.pos_proj(sinusoidal_table(span, self.pos_proj.in_features, interleaved=False).to(q.dtype))
        relative = relative.reshape(span.shape[0], heads, head_dim).transpose(0, 1)  # [heads, L, head_dim]
        by_distance = (q + self.pos_bias_v.to(q.dtype)[None, :, None, :]) @ relative.transpose(-1, -2)[None]
        index = (distance - lowest)[:, None].expand(batch, heads, q_len, k.shape[2])
        return DenseBias((content + torch.gather(by_distance, -1, index)) * self.scale)

    def forward(self, x: torch.Tensor, inputs: StackInputs, cache: LayerCache | None = None) -> torch.Tensor:
        q = self.q_proj(x)
        if self.qk_norm is QKNorm.projection:
            q = self.q_norm(q)
        q = self._heads(q, self.n_heads)
        if self.qk_norm in (QKNorm.head, QKNorm.head_unshared):
            q = self.q_norm(q)
        if self.query_temperature is not None:
            q = self._temperature(q, inputs.positions)
        if self.cross:
            if cache is not None and cache.cross_kv is not None:
                k, v = cache.cross_kv
            else:
                k, v = self._project_kv(inputs.memory)
                if cache is not None:
                    cache.cross_kv = (k, v)
            k_pos = inputs.memory_positions
            mask = MaskSpec(inputs.positions, k_pos, causal=False, key_valid=inputs.memory_valid,
                            block_masks=inputs.block_masks)
        else:
            k, v = self._project_kv(x)
            if self.plan.rope is not None:
                cos, sin = inputs.rope[self.plan.rope.key]
                q = apply_rotary(q, cos, sin, self.plan.rope.layout)
                k = apply_rotary(k, cos, sin, self.plan.rope.layout)
                if self.qk_norm is QKNorm.l2:
                    q = F.rms_norm(q, (self.head_dim,), eps=self.norm_eps)
                    k = F.rms_norm(k, (self.head_dim,), eps=self.norm_eps)
            k_pos, key_valid = inputs.positions, inputs.key_valid
            if cache is not None:
                k, v, k_pos, key_valid = cache.update(k, v, k_pos, key_valid)
            mask = MaskSpec(inputs.positions, k_pos, self.plan.causal, self.plan.local, self.plan.window, key_valid,
                            inputs.block_masks)
        bias = None
        if self.position in (Position.alibi, Position.relative_bias):
            bias = inputs.bias(inputs.positions, k_pos)
        elif self.position is Position.xl_relative:
            bias = self._xl_bias(q, k, inputs.positions, k_pos)
        backend = ATTENTION_BACKENDS[self.resolved_backend(x.device.type)]
        out = backend(q, k, v, self.scale, mask, bias, self.softcap)
        return self.o_proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))
