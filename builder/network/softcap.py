"""Logit soft-capping, cap * tanh(x / cap): bounds attention logits (Gemma 2, Grok-1) and output logits."""

import torch


def soft_cap(x: torch.Tensor, cap: float) -> torch.Tensor:
    return torch.tanh(x / cap) * cap
