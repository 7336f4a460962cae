"""Relative positions as additive attention biases: ALiBi's slopes and T5's bucketed table.

`AlibiBias` (BLOOM's slopes) and `T5RelativeBias` (`relative_attention_bias.weight`, [buckets, n_heads]) return
a `DistanceBias` of query and key positions (per row [B, T], or shared [T]): additive logits that the eager and
SDPA backends read dense ([rows, heads, q, k]) and flex_attention computes per score from the slopes or a
per-distance table. Transformer-XL's relative term lives in the attention module (it needs the queries).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from builder.network.init import Embedding, Init, Initialised


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


class AlibiBias(nn.Module, Initialised):
    """bias[..., h, q, k] = slope_h * (k - q): a linear penalty on distance (equal, under softmax, to BLOOM's
    slope * k, where BLOOM too counts k from the first real token of a left-padded row)."""

    def __init__(self, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.register_buffer("slopes", alibi_slopes(n_heads), persistent=False)

    def init_weights(self, init: Init) -> None:
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
        self.relative_attention_bias = Embedding(num_buckets, n_heads)

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
