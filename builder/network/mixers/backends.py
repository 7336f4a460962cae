"""The attention kernels behind the softmax-attention mixer: eager, SDPA and flex_attention.

`eager` is the explicit-softmax reference; `sdpa` is F.scaled_dot_product_attention with enable_gqa (no repeated
K/V) and an additive mask for windows, padding and biases; `flex` is flex_attention with a block mask built from
the same mask function and a score_mod for biases and soft-capping (compiled on CUDA). Each takes
(q [B, heads, Tq, D], k and v [B, kv_heads, Tk, D], scale, MaskSpec, bias, softcap, sinks) and returns
[B, heads, Tq, D]. Sinks (gpt-oss) are per-head logits that join every softmax's denominator and weigh no value:
eager appends them as a last score column and drops it after the softmax; SDPA attends over one extra key of
zeros whose additive mask entry is the sink; flex rescales its output by sigmoid(logsumexp - sink), which is
the share of the softmax mass the real keys keep.

Biases reach the backends as objects with two forms: dense() [B or 1, heads, Tq, Tk] for eager and SDPA, and
score(b, h, q_idx, kv_idx) for flex's score_mod (ALiBi and T5 compute theirs from tiny tensors, see
builder.network.relative.DistanceBias; Transformer-XL's is a `DenseBias`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from builder.network.mixers.masks import MaskSpec, additive_mask, block_mask, dense_mask
from builder.network.softcap import soft_cap

BACKENDS = ("auto", "eager", "sdpa", "flex")


def check_backend(name: str, softcap: float | None) -> None:
    """Refuse a backend that does not exist, or that cannot compute attention with these logits."""
    if name not in BACKENDS:
        raise ValueError(f"unknown attention backend '{name}'; accepted: {', '.join(BACKENDS)}")
    if name == "sdpa" and softcap is not None:
        raise ValueError("the sdpa backend cannot soft-cap attention logits; use eager, flex or auto")


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


def eager_attention(q, k, v, scale, mask: MaskSpec, bias, softcap, sinks=None):
    """Reference: explicit logits, bias, soft-cap, mask and float32 softmax; K/V groups broadcast, not copied."""
    batch, heads, q_len, head_dim = q.shape
    kv_heads, k_len = k.shape[1], k.shape[2]
    grouped = q.reshape(batch, kv_heads, heads // kv_heads, q_len, head_dim)
    scores = (grouped @ k.unsqueeze(2).transpose(-1, -2)).reshape(batch, heads, q_len, k_len) * scale
    if bias is not None:
        scores = scores + bias.dense()
    if softcap is not None:
        scores = soft_cap(scores, softcap)
    if mask.restricts:
        scores = scores.masked_fill(~dense_mask(mask), torch.finfo(scores.dtype).min)
    if sinks is not None:  # one more logit per head in the denominator, dropped after the softmax
        sink_column = sinks.to(scores.dtype)[None, :, None, None].expand(batch, heads, q_len, 1)
        probs = torch.cat((scores, sink_column), dim=-1).float().softmax(-1)[..., :-1].to(q.dtype)
    else:
        probs = scores.float().softmax(-1).to(q.dtype)
    out = probs.reshape(batch, kv_heads, heads // kv_heads, q_len, k_len) @ v.unsqueeze(2)
    return out.reshape(batch, heads, q_len, v.shape[-1])  # v may be narrower than q and k (MLA)


def sdpa_attention(q, k, v, scale, mask: MaskSpec, bias, softcap, sinks=None):
    """F.scaled_dot_product_attention with enable_gqa; windows, padding and biases as one additive mask."""
    check_backend("sdpa", softcap)
    if bias is None and sinks is None and (mask.plain_causal or not mask.restricts):
        return F.scaled_dot_product_attention(q, k, v, is_causal=mask.causal, scale=scale, enable_gqa=True)
    additive = additive_mask(mask, q.dtype) if mask.restricts else torch.zeros((), dtype=q.dtype, device=q.device)
    if bias is not None:
        additive = additive + bias.dense().to(q.dtype)
    if sinks is not None:  # a key of zeros (q.k = 0) whose mask entry is the head's sink logit, and a zero value
        batch, heads, q_len = q.shape[0], q.shape[1], q.shape[2]
        additive = additive.expand(batch, heads, q_len, k.shape[2])
        sink_column = sinks.to(q.dtype)[None, :, None, None].expand(batch, heads, q_len, 1)
        additive = torch.cat((additive, sink_column), dim=-1)
        k = torch.cat((k, k.new_zeros(*k.shape[:2], 1, k.shape[3])), dim=2)
        v = torch.cat((v, v.new_zeros(*v.shape[:2], 1, v.shape[3])), dim=2)
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


def flex_attention_backend(q, k, v, scale, mask: MaskSpec, bias, softcap, sinks=None):
    """flex_attention: the block mask of MaskSpec.mask_mod (shared through mask.built), and a score_mod
    adding the bias's per-score term, rounded to q's dtype as the dense bias is, and soft-capping."""
    blocks = block_mask(mask) if mask.restricts else None
    score_mod = None
    if bias is not None or softcap is not None:
        dtype = q.dtype

        def score_mod(score, b, h, q_idx, kv_idx):
            if bias is not None:
                score = score + bias.score(b, h, q_idx, kv_idx).to(dtype)
            if softcap is not None:
                score = soft_cap(score, softcap)
            return score

    flex = _flex_function(q.device)
    if sinks is None:
        return flex(q, k, v, score_mod=score_mod, block_mask=blocks, scale=scale, enable_gqa=True)
    out, lse = flex(q, k, v, score_mod=score_mod, block_mask=blocks, scale=scale, enable_gqa=True, return_lse=True)
    kept = torch.sigmoid(lse - sinks.float()[None, :, None])  # [B, heads, Tq]: 1 / (1 + e^(sink - lse))
    return (out.float() * kept[..., None]).to(out.dtype)


ATTENTION_BACKENDS = {"eager": eager_attention, "sdpa": sdpa_attention, "flex": flex_attention_backend}
