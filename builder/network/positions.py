"""Token positions and absolute positional encodings added to the embeddings.

`token_positions` is the one place a token's position is derived: per row, from the attention mask, so the
first real token of a left-padded row is position 0 (as transformers' generate counts), and every scheme
(absolute tables here, builder.network.rotary, builder.network.relative) sees the same positions whatever the
padding. Absolute: `sinusoidal_table` (computed on the fly, no weights) and `LearnedPositions`
(`embed_positions.weight`, rows offset by `position_offset` as OPT stores them).
"""

from __future__ import annotations

import torch
from torch import nn

from builder.network.init import Init, Initialised


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


class LearnedPositions(nn.Module, Initialised):
    """A learned table of context_length + offset rows; position p reads row p + offset."""

    def __init__(self, context_length: int, dim: int, offset: int):
        super().__init__()
        self.offset = offset
        self.weight = nn.Parameter(torch.empty(context_length + offset, dim))

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.weight[positions + self.offset]

    def init_weights(self, init: Init) -> None:
        init.normal(self.weight)
