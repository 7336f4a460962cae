"""The public row: a ModelRecord flattened to the columns of COLUMNS.md.

tests/zoo/test_columns.py holds this module and that contract in step.
"""

from __future__ import annotations

from zoo.accounting import kv_cache_bytes_per_token, param_counts
from zoo.plan import plan_model
from zoo.schema import ModelRecord, Position

# Column name -> Python type of its (nullable) value, in the contract's order.
CONTRACT_COLUMNS: dict[str, type] = {
    # Identity
    "key": str,
    "name": str,
    "family": str,
    "organization": str,
    "released": str,
    "year": int,
    "arch": str,
    "params_published": int,
    "params_total": int,
    "params_active": int,
    # Shape
    "n_layers": int,
    "n_encoder_layers": int,
    "d_model": int,
    "n_heads": int,
    "n_kv_heads": int,
    "head_dim": int,
    "d_ff": int,
    "vocab_size": int,
    "context_length": int,
    # Block
    "norm": str,
    "norm_position": str,
    "activation": str,
    "gated_mlp": bool,
    "parallel_block": bool,
    "linear_bias": bool,
    "qkv_bias": bool,
    "tied_embeddings": bool,
    "dropout": float,
    "embedding_norm": bool,
    # Position
    "position": str,
    "rope_theta": float,
    "rotary_fraction": float,
    # Attention
    "attention": str,
    "layer_pattern": str,
    "sliding_window": int,
    "chunked_attention": bool,
    "global_nope": bool,
    # Stability
    "z_loss": float,
    "qk_norm": bool,
    "attn_softcap": float,
    "final_softcap": float,
    # Mixture of experts
    "n_experts": int,
    "experts_per_token": int,
    "n_shared_experts": int,
    # Frontier choices
    "kv_lora_rank": int,
    "q_lora_rank": int,
    "attention_sinks": bool,
    "rope_scaling": str,
    "nope_layers": int,
    "expert_d_ff": int,
    "n_dense_layers": int,
    "moe_router": str,
    "mtp_layers": int,
    # Training
    "training_tokens": float,
    "weight_decay": float,
    "optimizer": str,
    # Derived ratios
    "ffn_ratio": float,
    "aspect_ratio": float,
    "head_ratio": float,
    "kv_cache_bytes_per_token": int,
    # Provenance
    "sources": list,
}

# Columns computed by zoo.accounting.
ACCOUNTING_COLUMNS = ("params_total", "params_active", "kv_cache_bytes_per_token")


# An assumed field hides its own column and every ratio derived from it.
_COLUMNS_FROM_FIELD = {
    "d_model": ("d_model", "ffn_ratio", "aspect_ratio", "head_ratio"),
    "n_layers": ("n_layers", "aspect_ratio"),
    "d_ff": ("d_ff", "ffn_ratio"),
    "n_heads": ("n_heads", "head_ratio"),
    "head_dim": ("head_dim", "head_ratio"),
    "n_kv_heads": ("n_kv_heads", "attention"),
    "local_attention": ("chunked_attention",),
    "qk_norm": ("qk_norm",),
    "moe.n_experts": ("n_experts",),
    "moe.experts_per_token": ("experts_per_token",),
    "moe.n_shared_experts": ("n_shared_experts",),
    "moe.expert_d_ff": ("expert_d_ff",),
    "moe.router": ("moe_router",),
    "moe.moe_pattern": ("n_dense_layers",),
    "rope_scaling": ("rope_scaling",),
    "global_nope": ("nope_layers",),
    "nope_pattern": ("nope_layers",),
}


def _nope_layers(arch) -> int:
    """Main-stack layers whose attention has no positional encoding while the model's others have one."""
    if arch.position is Position.none:
        return arch.n_layers
    return sum(layer.position is Position.none for layer in plan_model(arch).decoder)


def _enum(value):
    return None if value is None else value.value


def accounting(record: ModelRecord) -> dict:
    """params_total, params_active and kv_cache_bytes_per_token, counted from the spec by zoo.accounting."""
    counts = param_counts(record.architecture)
    return {
        "params_total": counts.total,
        "params_active": counts.active,
        "kv_cache_bytes_per_token": kv_cache_bytes_per_token(record.architecture),
    }


def flatten(record: ModelRecord, computed: dict | None = None) -> dict:
    """One contract row. Assumed values show as null: the public row holds published facts only."""
    a = record.architecture
    moe = a.moe
    row = {
        "key": record.key,
        "name": record.name,
        "family": record.family,
        "organization": record.organization,
        "released": record.released,
        "year": record.year,
        "arch": a.arch.value,
        "params_published": record.params_published,
        "n_layers": a.n_layers,
        "n_encoder_layers": a.n_encoder_layers,
        "d_model": a.d_model,
        "n_heads": a.n_heads,
        "n_kv_heads": a.n_kv_heads,
        "head_dim": a.head_dim,
        "d_ff": a.d_ff,
        "vocab_size": a.vocab_size,
        "context_length": a.context_length,
        "norm": a.norm.value,
        "norm_position": a.norm_position.value,
        "activation": a.activation.value,
        "gated_mlp": a.gated_mlp,
        "parallel_block": a.parallel_block,
        "linear_bias": a.linear_bias,
        "qkv_bias": a.qkv_bias,
        "tied_embeddings": a.tied_embeddings,
        "dropout": a.dropout,
        "embedding_norm": a.embedding_norm,
        "position": a.position.value,
        "rope_theta": a.rope_theta,
        "rotary_fraction": a.rotary_fraction,
        "attention": a.attention,
        "layer_pattern": a.layer_pattern,
        "sliding_window": a.sliding_window,
        "chunked_attention": _enum(a.local_attention) == "chunked" if a.has_local_layers else False,
        "global_nope": a.global_nope,
        "z_loss": a.z_loss,
        "qk_norm": a.qk_norm.value != "none",
        "attn_softcap": a.attn_softcap,
        "final_softcap": a.final_softcap,
        "n_experts": moe.n_experts if moe else None,
        "experts_per_token": moe.experts_per_token if moe else None,
        "n_shared_experts": moe.n_shared_experts if moe else None,
        "kv_lora_rank": a.mla.kv_lora_rank if a.mla else None,
        "q_lora_rank": a.mla.q_lora_rank if a.mla else None,
        "attention_sinks": a.attention_sinks,
        "rope_scaling": "none" if a.rope_scaling is None else a.rope_scaling.kind.value,
        "nope_layers": _nope_layers(a),
        "expert_d_ff": moe.expert_d_ff if moe else None,
        "n_dense_layers": sum(not layer.moe for layer in plan_model(a).decoder) if moe else None,
        "moe_router": moe.router.value if moe else None,
        "mtp_layers": a.mtp_layers,
        "training_tokens": record.training.training_tokens,
        "weight_decay": record.training.weight_decay,
        "optimizer": record.training.optimizer,
        "ffn_ratio": a.ffn_ratio,
        "aspect_ratio": a.aspect_ratio,
        "head_ratio": a.head_ratio,
        "sources": [source.url for source in record.sources],
    }
    for name in record.assumed:
        for column in _COLUMNS_FROM_FIELD.get(name, (name,)):
            if column in row:
                row[column] = None
    computed = computed or {}
    for name in ACCOUNTING_COLUMNS:
        row[name] = computed.get(name)
    return {name: row[name] for name in CONTRACT_COLUMNS}
