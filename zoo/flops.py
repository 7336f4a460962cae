"""Model FLOPs per token by the convention of FLOPS.md, as pure functions of the Architecture (no torch).

Matmul FLOPs at 2 per multiply-add, walked layer by layer through the layer plan (zoo.plan), so windows,
chunks, GQA, cross-attention and mixture-of-experts layers are counted as the model runs them. The
benchmarks' counter of what the kernels actually run (builder.bench.flop_counter) counts attention by the
same convention; the tests hold the two against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.plan import AttentionPlan, LayerPlan, plan_model
from zoo.schema import Arch, Architecture, LocalAttention, OutputHead, Position, TokenMixer

MODES = ("forward", "train", "decode")
BACKWARD_FACTOR = 2  # a backward pass costs two matmuls (input and weight gradients) per forward matmul


@dataclass(frozen=True)
class FlopBreakdown:
    """FLOPs per token of one pass, by where they are spent."""

    projections: float  # q, k, v, o of self- and cross-attention, Transformer-XL's W_r
    attention: float  # scores q.k and the weighted sum of values, over the keys actually attended
    mlp: float  # dense MLPs, routers, active routed experts, shared experts
    head: float  # embedding projections, the MLM transform and the output projection (tied or not)

    @property
    def total(self) -> float:
        return self.projections + self.attention + self.mlp + self.head

    def scaled(self, factor: float) -> FlopBreakdown:
        return FlopBreakdown(*(factor * value for value in (self.projections, self.attention, self.mlp, self.head)))


def attended_pairs(layer: AttentionPlan | LayerPlan, length: int) -> int:
    """(query, key) pairs one self-attention layer scores over a sequence of `length` tokens."""
    if not layer.causal:
        return length * length
    if layer.local is None:
        return length * (length + 1) // 2
    window = layer.window
    if layer.local is LocalAttention.sliding:
        inside = min(length, window)
        return inside * (inside + 1) // 2 + (length - inside) * window
    full_chunks, rest = divmod(length, window)
    return full_chunks * window * (window + 1) // 2 + rest * (rest + 1) // 2


def attended_keys(layer: AttentionPlan | LayerPlan, context: int) -> int:
    """Keys a decoded token attends in one self-attention layer when it is token number `context` (1-based)."""
    if layer.local is LocalAttention.sliding:
        return min(context, layer.window)
    if layer.local is LocalAttention.chunked:
        return (context - 1) % layer.window + 1
    return context


def _linear(d_in: int, d_out: int) -> int:
    return 2 * d_in * d_out


def _mlp(arch: Architecture, layer: LayerPlan) -> int:
    branches = 3 if arch.gated_mlp else 2  # (gate,) up and down matrices
    if not layer.moe:
        return branches * _linear(arch.d_model, arch.d_ff)
    moe = arch.moe
    visited = moe.experts_per_token + moe.n_shared_experts
    router = _linear(arch.d_model, moe.n_experts + (1 if moe.shared_expert_gate else 0))  # the shared gate's logit
    return router + visited * branches * _linear(arch.d_model, moe.expert_d_ff)


def _attention(arch: Architecture, plan: AttentionPlan, keys_per_query: float, sources_projected: float):
    """(projections, attention) FLOPs of one attention mixer per query token.

    keys_per_query: keys each query attends; sources_projected (cross-attention): source tokens whose K/V are
    projected per query token (0 where they were projected and cached before).
    """
    d, q_width, kv_width = arch.d_model, arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
    per_pair = 4 * arch.n_heads * arch.head_dim  # q.k and p.v for every head, 2 FLOPs per multiply-add each
    kv_projections = sources_projected * 2 * _linear(d, kv_width) if plan.cross else 2 * _linear(d, kv_width)
    projections = _linear(d, q_width) + _linear(q_width, d) + kv_projections
    attention = per_pair * keys_per_query
    if plan.position is Position.xl_relative:
        projections += _linear(d, q_width)  # W_r over one relative distance per position
        attention += per_pair / 2 * keys_per_query  # (q + v).W_r R: one more product per pair
    return projections, attention


def _latent_attention(arch: Architecture, plan: AttentionPlan, keys_per_query: float, sources_projected: float):
    """(projections, attention) FLOPs of multi-head latent attention per token: its projections once per token
    (the latent's up-projection to keys and values included, as the reference computes it), and q.k over
    qk_nope + qk_rope dims and p.v over v_head_dim for every head and key."""
    m, d, heads = arch.mla, arch.d_model, arch.n_heads
    q_width = heads * arch.head_dim
    query = _linear(d, q_width) if m.q_lora_rank is None else _linear(d, m.q_lora_rank) + _linear(m.q_lora_rank, q_width)
    projections = query + _linear(d, m.kv_lora_rank + m.qk_rope_head_dim)
    projections += _linear(m.kv_lora_rank, heads * (m.qk_nope_head_dim + m.v_head_dim)) + _linear(heads * m.v_head_dim, d)
    attention = 2 * heads * (arch.head_dim + m.v_head_dim) * keys_per_query
    return projections, attention


# FLOPs of one token mixer per token, by kind.
MIXER_FLOPS = {TokenMixer.attention: _attention, TokenMixer.mla: _latent_attention}


def _layer(arch: Architecture, layer: LayerPlan, keys_per_query: float, source_keys: float, sources_projected: float):
    """(projections, attention, mlp) FLOPs of one layer per token it processes.

    keys_per_query: self-attention keys each query attends; source_keys: encoder tokens each query attends in
    cross-attention; sources_projected: encoder tokens whose cross-attention K/V are projected per token.
    """
    projections, attention = MIXER_FLOPS[layer.attention.mixer](arch, layer.attention, keys_per_query, 0)
    if layer.cross_attention is not None:
        cross = layer.cross_attention
        p, a = MIXER_FLOPS[cross.mixer](arch, cross, source_keys, sources_projected)
        projections, attention = projections + p, attention + a
    return projections, attention, _mlp(arch, layer)


def _head(arch: Architecture) -> int:
    width = arch.embedding_dim or arch.d_model
    flops = _linear(width, arch.vocab_size)
    if arch.embedding_dim:
        flops += 2 * _linear(arch.d_model, width)  # projected in from and out to the narrower embedding
    if arch.output_head is OutputHead.transform:
        flops += _linear(arch.d_model, arch.d_model)
    return flops


def flop_breakdown(arch: Architecture, seq: int, mode: str = "forward", *, source_len: int | None = None) -> FlopBreakdown:
    """FLOPs per token by FLOPS.md, split by where they go.

    forward / train: per token of a batch of sequences of `seq` tokens, averaged over positions (train is
    forward plus a backward of twice the forward). decode: for one new token that is token number `seq` of
    its sequence, the earlier ones cached. An encoder-decoder reads a source of `source_len` tokens (default
    `seq`); its tokens are the decoder's, the encoder's cost spread over them (and in decode, paid at prefill).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode '{mode}'; accepted: {', '.join(MODES)}")
    if seq < 1:
        raise ValueError(f"seq must be at least 1, got {seq}")
    if mode == "decode" and arch.arch is Arch.encoder:
        raise ValueError("decode needs a decoder; an encoder-only model has no next token to generate")
    source_len = seq if source_len is None else source_len
    plan = plan_model(arch)
    projections = attention = mlp = 0.0
    for layer in plan.encoder:  # runs over the source; in decode, once at prefill
        if mode == "decode":
            continue
        share = source_len / seq
        p, a, m = _layer(arch, layer, attended_pairs(layer, source_len) / source_len, 0, 0)
        projections, attention, mlp = projections + share * p, attention + share * a, mlp + share * m
    for layer in plan.decoder:
        if mode == "decode":  # the encoder's K/V were projected and cached at prefill
            p, a, m = _layer(arch, layer, attended_keys(layer, seq), source_len, 0)
        else:
            p, a, m = _layer(arch, layer, attended_pairs(layer, seq) / seq, source_len, source_len / seq)
        projections, attention, mlp = projections + p, attention + a, mlp + m
    breakdown = FlopBreakdown(projections, attention, mlp, _head(arch))
    return breakdown.scaled(1 + BACKWARD_FACTOR) if mode == "train" else breakdown


def flops_per_token(arch: Architecture, seq: int, mode: str = "forward", *, source_len: int | None = None) -> float:
    """Model FLOPs per token by FLOPS.md (see flop_breakdown for the meaning of seq in each mode)."""
    return flop_breakdown(arch, seq, mode, source_len=source_len).total


def decode_flops_per_token(arch: Architecture, prompt: int, new: int) -> float:
    """Mean FLOPs of the `new` tokens decoded after a `prompt`-token prefill (contexts prompt+1 .. prompt+new)."""
    contexts = range(prompt + 1, prompt + new + 1)
    return sum(flops_per_token(arch, n, "decode", source_len=prompt) for n in contexts) / new
