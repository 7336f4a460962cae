"""Which keys each query may see: causal order, a sliding window or a chunk, and key padding.

A `MaskSpec` is one mask function of token positions (`mask_mod`), read in three forms: the boolean
[B or 1, 1, Tq, Tk] that eager attention applies (`dense_mask`), the additive one SDPA takes (`additive_mask`),
and flex_attention's block mask (`block_mask`), all from the same function. Sliding: a query at position q sees
keys at q - window < k <= q. Chunked: keys of its own chunk, floor(k / window) == floor(q / window), up to
itself. Each form is built once per forward per distinct mask and shared by the layers of a stack, through the
dict its StackInputs holds for that forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Hashable

import torch

from zoo.schema import LocalAttention


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
    built: dict | None = None  # the stack's masks of this forward, by form and key (None: built per call)
    source: Hashable = "stack"  # whose positions and padding the keys are: "stack", "memory", ("cache", layer)

    def __post_init__(self):
        """Positions as [batch, T] views, batch being the most rows any of positions and padding has."""
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
        """What tells masks apart within one forward: the flags and where the key positions come from (the
        layers of a stack share the stack's positions; a cached layer attends over its own). A label rather
        than tensor identity, so a compiled forward holds no guard on which tensors it was given."""
        return (self.causal, self.local, self.window, self.source)

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


def _once(mask: MaskSpec, form, build):
    """One form of `mask`, built on first request in this forward and shared by the layers that need it.

    Building repeats work over the whole score matrix (create_block_mask evaluates the mask function everywhere),
    so per layer it would be done n_layers times for what is, within a forward, one mask per kind of layer
    (Gemma 2's alternating local and global layers need two). Masks are told apart by MaskSpec.key. With a KV
    cache, steps after the first attend over each layer's own cached positions, so there every layer builds its own.
    """
    built = mask.built if mask.built is not None else {}
    key = (form, *mask.key)
    if key not in built:
        built[key] = build()
    return built[key]


def dense_mask(mask: MaskSpec) -> torch.Tensor:
    """Boolean [B or 1, 1, Tq, Tk], True where a query may see a key."""
    return _once(mask, "dense", mask.dense)


def additive_mask(mask: MaskSpec, dtype: torch.dtype) -> torch.Tensor:
    """[B or 1, 1, Tq, Tk] in `dtype`: 0 where a query may see a key, the dtype's lowest value elsewhere."""
    def build():
        allowed = dense_mask(mask)
        return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)

    return _once(mask, ("additive", dtype), build)


def block_mask(mask: MaskSpec):
    """flex_attention's BlockMask."""
    return _once(mask, "block", lambda: _create_block_mask(mask))


def _create_block_mask(mask: MaskSpec):
    """flex's BlockMask of one MaskSpec (batch None: one mask that every row shares)."""
    from torch.nn.attention.flex_attention import create_block_mask

    batch = None if mask.batch == 1 else mask.batch
    mask_mod = lambda b, h, q_idx, kv_idx: mask.mask_mod(b, h, q_idx, kv_idx)  # noqa: E731 (a plain function)
    return create_block_mask(mask_mod, batch, None, mask.q_pos.shape[1], mask.k_pos.shape[1], device=mask.q_pos.device)
