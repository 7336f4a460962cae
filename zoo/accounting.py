"""Parameter and KV-cache accounting as pure functions of an Architecture (no torch import).

They mirror the modules the builder instantiates, layer by layer through the same plan (zoo.plan), so the
counts are exact. Embedding parameters are the token table, an untied output projection, learned position and
token-type tables; everything else (norms, biases, relative-position tables, projections) is non-embedding.
"""

from __future__ import annotations

from typing import NamedTuple

from zoo.plan import AttentionPlan, LayerPlan, plan_model
from zoo.schema import Arch, Architecture, ModelRecord, Norm, OutputHead, Position, QKNorm, TokenMixer


class ParamCounts(NamedTuple):
    total: int
    active: int  # used per token: total minus the routed experts a token does not visit
    embedding: int
    non_embedding: int


def _norm(arch: Architecture, dim: int) -> int:
    if not arch.norm_affine:
        return 0
    return dim * (2 if arch.norm is Norm.layernorm and arch.norm_bias else 1)


def _linear(d_in: int, d_out: int, bias: bool) -> int:
    return d_in * d_out + (d_out if bias else 0)


def _qk_norm(arch: Architecture) -> int:
    """Weights of the query and key norms (the after-RoPE l2 norm has none)."""
    q_width, kv_width = arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
    if arch.qk_norm is QKNorm.head:
        return 2 * _norm(arch, arch.head_dim)
    if arch.qk_norm in (QKNorm.head_unshared, QKNorm.projection):
        return _norm(arch, q_width) + _norm(arch, kv_width)
    return 0


def _attention(arch: Architecture, plan: AttentionPlan) -> int:
    d, q_width, kv_width = arch.d_model, arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
    count = _linear(d, q_width, arch.qkv_bias) + 2 * _linear(d, kv_width, arch.qkv_bias)
    count += _linear(q_width, d, arch.linear_bias)
    if arch.attention_sinks and not plan.cross:
        count += arch.n_heads
    if plan.qk_norm is not None:
        count += _qk_norm(arch)
    if plan.position is Position.xl_relative:
        count += d * q_width + 2 * q_width
    return count


def _latent_attention(arch: Architecture, plan: AttentionPlan) -> int:
    """MLA: the query projection (full, or down, norm, up), the joint KV-latent and RoPE-key projection, the
    latent's norm, the up-projection to every head's key part and value, and the output projection."""
    m, d, heads = arch.mla, arch.d_model, arch.n_heads
    q_width = heads * arch.head_dim
    if m.q_lora_rank is None:
        query = d * q_width
    else:
        query = d * m.q_lora_rank + _norm(arch, m.q_lora_rank) + m.q_lora_rank * q_width
    keys_values = d * (m.kv_lora_rank + m.qk_rope_head_dim) + _norm(arch, m.kv_lora_rank)
    keys_values += m.kv_lora_rank * heads * (m.qk_nope_head_dim + m.v_head_dim)
    return query + keys_values + heads * m.v_head_dim * d


# Parameters of one token mixer, by kind.
MIXER_PARAMETERS = {TokenMixer.attention: _attention, TokenMixer.mla: _latent_attention}


def _mixer(arch: Architecture, plan: AttentionPlan) -> int:
    return MIXER_PARAMETERS[plan.mixer](arch, plan)


def _dense_mlp(arch: Architecture, d_ff: int) -> int:
    branches = 2 if arch.gated_mlp else 1
    bias = arch.has_mlp_bias
    return branches * _linear(arch.d_model, d_ff, bias) + _linear(d_ff, arch.d_model, bias)


def _expert(arch: Architecture) -> int:
    moe = arch.moe
    biases = ((2 if arch.gated_mlp else 1) * moe.expert_d_ff + arch.d_model) if moe.expert_bias else 0
    return (3 if arch.gated_mlp else 2) * arch.d_model * moe.expert_d_ff + biases


def _mlp(arch: Architecture, layer: LayerPlan) -> tuple[int, int]:
    """(total, active) parameters of a layer's MLP."""
    if not layer.moe:
        count = _dense_mlp(arch, arch.d_ff)
        return count, count
    moe = arch.moe
    shared = _dense_mlp(arch, moe.n_shared_experts * moe.expert_d_ff) if moe.n_shared_experts else 0
    router = (arch.d_model + (1 if moe.router_bias else 0)) * moe.n_experts + (arch.d_model if moe.shared_expert_gate else 0)
    return router + moe.n_experts * _expert(arch) + shared, router + moe.experts_per_token * _expert(arch) + shared


def _block_norms(arch: Architecture, sublayers: int) -> int:
    if arch.parallel_block:
        return _norm(arch, arch.d_model) * (1 if arch.parallel_shared_norm else 2)
    per_sublayer = 2 if arch.norm_position.value == "double" else 1
    return sublayers * per_sublayer * _norm(arch, arch.d_model)


def layer_params(arch: Architecture, layer: LayerPlan) -> tuple[int, int]:
    """(total, active) parameters of one planned layer."""
    attention = _mixer(arch, layer.attention)
    sublayers = 2
    if layer.cross_attention is not None:
        attention += _mixer(arch, layer.cross_attention)
        sublayers = 3
    mlp_total, mlp_active = _mlp(arch, layer)
    fixed = attention + _block_norms(arch, sublayers)
    return fixed + mlp_total, fixed + mlp_active


def param_counts(arch: Architecture) -> ParamCounts:
    """(total, active, embedding, non_embedding) parameters of the model the builder instantiates."""
    d, width = arch.d_model, arch.embedding_dim or arch.d_model
    plan = plan_model(arch)
    embedding = arch.vocab_size * width
    if not arch.tied_embeddings:
        embedding += arch.vocab_size * width
    if arch.position is Position.learned:
        embedding += (arch.context_length + arch.position_offset) * d
    embedding += arch.token_types * d

    other = arch.vocab_size if arch.output_bias else 0
    if arch.embedding_dim:
        other += 2 * width * d
    if arch.embedding_norm:
        other += _norm(arch, d)
    if arch.position is Position.relative_bias:
        stacks = 2 if arch.arch is Arch.encoder_decoder else 1
        other += stacks * arch.relative_buckets * arch.n_heads
    if arch.final_norm:
        other += _norm(arch, d) * (2 if arch.arch is Arch.encoder_decoder else 1)
    if arch.output_head is OutputHead.transform:
        other += _linear(d, d, arch.linear_bias) + _norm(arch, d)
    if arch.pooler:
        other += _linear(d, d, arch.linear_bias)

    total = active = embedding + other
    for layer in plan.layers:
        layer_total, layer_active = layer_params(arch, layer)
        total += layer_total
        active += layer_active
    return ParamCounts(total, active, embedding, total - embedding)


def mtp_params(arch: Architecture) -> tuple[int, int]:
    """(parameters of the multi-token-prediction modules, the same with each module's copies of the embedding
    and output head): per module, one more layer like the last, a 2 d_model -> d_model projection of [its hidden
    state; the next token's embedding] and three norms (DeepSeek-V3). Not part of params_total."""
    if not arch.mtp_layers:
        return 0, 0
    last = plan_model(arch).decoder[-1]
    module = layer_params(arch, last)[0] + 2 * arch.d_model * arch.d_model + 3 * _norm(arch, arch.d_model)
    tables = arch.vocab_size * arch.d_model * (1 if arch.tied_embeddings else 2)
    return arch.mtp_layers * module, arch.mtp_layers * (module + tables)


def kv_cache_bytes_per_token(arch: Architecture, bytes_per_element: int = 2) -> int:
    """Bytes of K and V one token adds to the cache of every main-stack self-attention layer.

    Local layers count too (a token stays cached while it is inside their window); an encoder-decoder's
    cross-attention cache is per source token and not included. Multi-head latent attention caches its latent
    (kv_lora_rank) and the RoPE key shared by its heads.
    """
    if arch.mla is not None:  # the latent and the shared RoPE key, not per-head keys and values
        return arch.n_layers * (arch.mla.kv_lora_rank + arch.mla.qk_rope_head_dim) * bytes_per_element
    return arch.n_layers * 2 * arch.n_kv_heads * arch.head_dim * bytes_per_element


def explain_gap(record: ModelRecord) -> list[str]:
    """Why the computed total differs from the published figure: each term of the model whose size the gap
    matches (within 0.05% of the published figure), plus the counting facts a reader needs."""
    arch, published = record.architecture, record.params_published
    counts = param_counts(arch)
    reasons = []
    if record.params_reference is not None:
        same = "equals" if counts.total == record.params_reference else "differs from"
        reasons.append(f"{same} the official config's count in its reference code ({record.params_reference:,})")
    if arch.mtp_layers:
        core, stored = mtp_params(arch)
        reasons.append(f"the checkpoint also holds {arch.mtp_layers} multi-token-prediction module(s), counted apart: "
                       f"{core:,} parameters ({stored:,} with their copies of the embedding and output head); "
                       f"model and modules together {counts.total + stored:,}")
    if published is None or counts.total == published:
        return reasons
    width = arch.embedding_dim or arch.d_model
    unbiased = arch.model_copy(update={"linear_bias": False, "qkv_bias": False, "mlp_bias": None, "output_bias": False})
    terms = {
        "the embedding parameters (published as a non-embedding count)": counts.embedding,
        "the projection biases": counts.total - param_counts(unbiased).total,
        "the routed experts a token does not visit": counts.total - counts.active,
    }
    if arch.tied_embeddings:
        terms["a second copy of the tied vocabulary matrix"] = arch.vocab_size * width
    gap = published - counts.total
    tolerance = 5e-4 * published
    reasons += [f"the gap ({gap:+,}) matches {name} ({size:,})" for name, size in terms.items()
                if size and abs(abs(gap) - size) <= tolerance]
    rows, remainder = divmod(abs(gap), width)
    if not remainder and 0 < rows < 0.05 * arch.vocab_size:
        reasons.append(f"the gap is exactly {rows:,} vocabulary rows of width {width} (vocabulary padding)")
    if arch.moe is not None:
        reasons.append(f"all {arch.moe.n_experts} experts are counted; {counts.active:,} parameters are active per token")
    return reasons
