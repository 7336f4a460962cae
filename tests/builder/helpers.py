"""Small architectures and module-side counts shared by the builder tests."""

from __future__ import annotations

import torch

from builder.network.moe import MoE
from zoo.schema import Architecture

TINY_DECODER = dict(
    arch="decoder", n_layers=2, d_model=32, n_heads=4, n_kv_heads=2, head_dim=8, d_ff=64, vocab_size=97,
    context_length=64, norm="rmsnorm", norm_eps=1e-5, norm_bias=False, norm_position="pre", final_norm=True,
    activation="swiglu", parallel_block=False, linear_bias=False, qkv_bias=False, tied_embeddings=False,
    dropout=0.0, embedding_norm=False, position="rope", rope_theta=10000.0, rotary_fraction=1.0, rope_layout="half",
)


def tiny_arch(**changes) -> Architecture:
    """A small valid decoder with some fields changed (None removes a field)."""
    document = {**TINY_DECODER, **changes}
    return Architecture.model_validate({k: v for k, v in document.items() if v is not None})


def module_counts(model) -> tuple[int, int, int]:
    """(total, active, embedding) read off the instantiated modules, independently of zoo.accounting."""
    total = sum(p.numel() for p in model.parameters())
    idle = 0
    for module in model.modules():
        if isinstance(module, MoE):
            experts = module.experts
            per_expert = experts.input_proj[0].numel() + experts.down_proj[0].numel()
            per_expert += sum(bias[0].numel() for bias in (experts.input_bias, experts.down_bias) if bias is not None)
            idle += (experts.down_proj.shape[0] - module.top_k) * per_expert
    tables = [model.embed_tokens.weight]
    if model.lm_head.weight is not model.embed_tokens.weight:
        tables.append(model.lm_head.weight)
    for module in (model.embed_positions, model.embed_token_types):
        if module is not None:
            tables.append(module.weight)
    return total, total - idle, sum(t.numel() for t in tables)


def inputs_for(model, batch: int = 2, length: int = 12, seed: int = 0) -> dict:
    """Random token ids (and encoder ids for an encoder-decoder) for a model."""
    generator = torch.Generator().manual_seed(seed)
    vocab = model.spec.vocab_size
    kwargs = {"input_ids": torch.randint(0, vocab, (batch, length), generator=generator)}
    if model.encoder_layers is not None:
        kwargs["encoder_input_ids"] = torch.randint(0, vocab, (batch, length + 3), generator=generator)
    return kwargs
