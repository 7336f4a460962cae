"""What every token mixer of a stack reads in one forward, computed once per forward by the model."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch



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
    masks: dict = field(default_factory=dict)  # this forward's masks, each form built once (see masks.py)
