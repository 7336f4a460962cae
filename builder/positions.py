"""Positional encodings: token positions, absolute tables added to embeddings, rotary tables, and attention biases.

Positions: `token_positions` is the one place a token's position is derived: per row, from the attention mask,
so the first real token of a left-padded row is position 0 (as transformers' generate counts), and every scheme
below sees the same positions whatever the padding. Relative schemes only read differences of these positions.

Absolute: `sinusoidal_table` (computed on the fly, no weights) and `LearnedPositions`
(`embed_positions.weight`, rows offset by `position_offset` as OPT stores them).
Rotary: `RotaryEmbedding` keeps its inverse frequencies as a non-persistent buffer that `reset_buffers`
recomputes after a meta build. Biases: `AlibiBias` (BLOOM's slopes) and `T5RelativeBias`
(`relative_attention_bias.weight`, [buckets, n_heads]) return a `DistanceBias` of query and key positions (per
row [B, T], or shared [T]): additive logits that the eager and SDPA backends read dense ([rows, heads, q, k])
and flex_attention computes per score from the slopes or a per-distance table. Transformer-XL's relative term lives in the attention module (it needs the queries).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from builder.plan import RopePlan
from zoo.schema import RopeLayout, RopeScalingKind


def token_positions(length: int, attention_mask: torch.Tensor | None = None,
                    start: torch.Tensor | None = None, device=None) -> torch.Tensor:
    """Positions [B or 1, length] of `length` new tokens: start + (real tokens so far in the row) - 1.

    attention_mask [B, length] (1 real, 0 padding) makes each row count only its real tokens, so padding columns
    take no positions; they are clamped to 0 (their outputs are never read). start [B or 1, 1] is the row's next
    position (a KV cache's), 0 when absent. Without a mask every row counts every column: [1, length].
    """
    if attention_mask is None:
        counts = torch.arange(1, length + 1, device=device)[None]
    else:
        counts = attention_mask.long().cumsum(-1)
    if start is not None:
        counts = counts + start
    return (counts - 1).clamp(min=0)


def sinusoidal_table(positions: torch.Tensor, dim: int, interleaved: bool = True) -> torch.Tensor:
    """Vaswani et al.: sin at even and cos at odd feature indices (or [sin | cos] halves), float32, [..., dim]."""
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32) / dim))
    angles = positions.float()[..., None] * inv_freq
    if interleaved:
        return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)[..., :dim]
    return torch.cat((angles.sin(), angles.cos()), dim=-1)[..., :dim]


class LearnedPositions(nn.Module):
    """A learned table of context_length + offset rows; position p reads row p + offset."""

    def __init__(self, context_length: int, dim: int, offset: int):
        super().__init__()
        self.offset = offset
        self.weight = nn.Parameter(torch.empty(context_length + offset, dim))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.weight[positions + self.offset]


def rope_inverse_frequencies(plan: RopePlan) -> torch.Tensor:
    """theta^(-2i/d) over the rotated dims, then linear or LLaMA 3 frequency scaling (as Hugging Face computes it)."""
    dim = plan.rotary_dim
    inv_freq = 1.0 / (plan.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = plan.scaling
    if scaling is None:
        return inv_freq
    if scaling.kind is RopeScalingKind.linear:
        return inv_freq / scaling.factor
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


class RotaryEmbedding(nn.Module):
    """cos/sin of position * inverse frequency, one table per distinct RoPE plan, built once per forward."""

    def __init__(self, plan: RopePlan):
        super().__init__()
        self.plan = plan
        self.register_buffer("inv_freq", rope_inverse_frequencies(plan), persistent=False)

    def reset_buffers(self) -> None:
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
        return angles.cos().to(dtype), angles.sin().to(dtype)


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


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Press et al.'s geometric slopes; for a non-power-of-2 head count, BLOOM's interleaved extension."""
    closest = 2 ** math.floor(math.log2(n_heads))
    base = torch.tensor(2 ** (-(2 ** -(math.log2(closest) - 3))), dtype=torch.float32)
    slopes = torch.pow(base, torch.arange(1, 1 + closest, dtype=torch.int32))
    if closest != n_heads:
        extra_base = torch.tensor(2 ** (-(2 ** -(math.log2(2 * closest) - 3))), dtype=torch.float32)
        remaining = min(closest, n_heads - closest)
        extra = torch.pow(extra_base, torch.arange(1, 1 + 2 * remaining, 2, dtype=torch.int32))
        slopes = torch.cat((slopes, extra))
    return slopes


class DistanceBias:
    """An additive attention bias that depends only on the head and the key - query distance, value(h, k - q),
    in the two forms the attention backends read.

    dense() materialises [rows, heads, Tq, Tk] for the eager and SDPA backends; score(b, h, q_idx, kv_idx) is
    flex_attention's score_mod term, computed per score from the positions ([rows, T], tiny) and whatever
    small tensors `value` reads, so the flex path never builds the [B, heads, Tq, Tk] tensor. `value` takes
    broadcastable head indices and integer distances and must be elementwise, so both forms give the same numbers.
    """

    def __init__(self, value, heads: int, q_pos: torch.Tensor, k_pos: torch.Tensor):
        q_pos, k_pos = torch.atleast_2d(q_pos), torch.atleast_2d(k_pos)
        rows = max(q_pos.shape[0], k_pos.shape[0])
        self.value, self.heads = value, heads
        self.q_pos, self.k_pos = q_pos.expand(rows, -1), k_pos.expand(rows, -1)

    def dense(self) -> torch.Tensor:
        distance = self.k_pos[:, None, None, :] - self.q_pos[:, None, :, None]  # [rows, 1, Tq, Tk]
        return self.value(torch.arange(self.heads, device=distance.device)[:, None, None], distance)

    def score(self, b, h, q_idx, kv_idx):
        row = b if self.q_pos.shape[0] > 1 else 0  # flex asks for every batch index, shared positions have one row
        return self.value(h, self.k_pos[row, kv_idx] - self.q_pos[row, q_idx])


class AlibiBias(nn.Module):
    """bias[..., h, q, k] = slope_h * (k - q): a linear penalty on distance (equal, under softmax, to BLOOM's
    slope * k, where BLOOM too counts k from the first real token of a left-padded row)."""

    def __init__(self, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def reset_buffers(self) -> None:
        self.slopes = alibi_slopes(self.n_heads).to(self.slopes.device)

    def forward(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> DistanceBias:
        """Positions [B or 1, Tq] and [B or 1, Tk] (or shared [T]) -> the bias, float32, from the slopes alone."""
        slopes = self.slopes
        return DistanceBias(lambda h, distance: slopes[h] * distance.float(), self.n_heads, q_pos, k_pos)


def t5_relative_bucket(relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int):
    """Mesh TensorFlow's bucketing of key - query offsets: exact near zero, logarithmic up to max_distance."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets
        relative_position = relative_position.abs()
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, large)


class T5RelativeBias(nn.Module):
    """A learned scalar per (bucket, head), shared by every layer of one stack."""

    def __init__(self, num_buckets: int, max_distance: int, n_heads: int, bidirectional: bool):
        super().__init__()
        self.num_buckets, self.max_distance, self.bidirectional = num_buckets, max_distance, bidirectional
        self.relative_attention_bias = nn.Embedding(num_buckets, n_heads)

    def forward(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> DistanceBias:
        """Positions [B or 1, Tq] and [B or 1, Tk] (or shared [T]) -> the bias, read from a [2 * max_distance + 1,
        heads] table of the distances -max_distance .. max_distance.

        Distances are clamped to that range, which changes no bucket: from |k - q| = max_distance on, the
        logarithmic bucket of each direction has reached its cap (and a unidirectional bias puts every later key
        in bucket 0), so the table holds every value the bias takes, whatever the sequence length.
        """
        reach = self.max_distance
        distances = torch.arange(-reach, reach + 1, device=self.relative_attention_bias.weight.device)
        table = self.relative_attention_bias(
            t5_relative_bucket(distances, self.bidirectional, self.num_buckets, self.max_distance))

        def value(h, distance):
            return table[distance.clamp(-reach, reach) + reach, h]

        return DistanceBias(value, table.shape[1], q_pos, k_pos)
