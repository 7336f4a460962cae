"""Decoding state: each self-attention layer's keys and values, preallocated and written in place."""

from __future__ import annotations

import torch


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

    def __init__(self, capacity: int, window: int | None = None, index: int = 0):
        self.index = index  # the layer's place in its stack, which names its masks
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
        if self.k is None:  # k and v may differ in heads and width (MLA caches a latent and a RoPE key)
            self.k = k.new_zeros(batch, k.shape[1], self.slots, k.shape[3])
            self.v = v.new_zeros(batch, v.shape[1], self.slots, v.shape[3])
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


class KVCache:
    """Decoding state: one LayerCache per main-stack layer, each row's next position and the encoder output.

    capacity: the most tokens per row it will hold (prompt plus tokens fed after it); windows: each layer's
    local window or chunk (None for a global layer), which bounds what that layer keeps.
    """

    def __init__(self, capacity: int, windows: list[int | None]):
        self.layers = [LayerCache(capacity, window, index) for index, window in enumerate(windows)]
        self.next_position: torch.Tensor | None = None  # [B or 1, 1]; None before the first step (position 0)
        self.memory: torch.Tensor | None = None
        self.memory_valid: torch.Tensor | None = None
