"""Hugging Face parameter names: for each transformers model type, where each of our parameters comes from.

A table maps one of our parameter names (with `{i}` for a layer index) to a `Source`: the checkpoint name
(or names, the first present wins, for renamed checkpoints) and the layout change that turns it into ours.
Our names are documented in builder/network/model.py; a rule whose parameter a spec does not have is never used.
Checkpoint names listed in ALIASES are copies of a tensor another rule reads (tied embeddings), so they are
neither loaded nor reported as unexpected.

Pure Python: the layout functions receive tensors but nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    names: tuple[str, ...]
    layout: str = "copy"  # a key of LAYOUTS
    part: int = 0  # which slice, for layouts that split a fused tensor


def src(*names: str, layout: str = "copy", part: int = 0) -> Source:
    return Source(names, layout, part)


def _conv1d(tensor, part, arch):
    """GPT-2's Conv1D stores weights as [in, out]: ours are nn.Linear [out, in]."""
    return tensor.t() if tensor.dim() == 2 else tensor


def _conv1d_qkv(tensor, part, arch):
    """GPT-2 c_attn: q, k and v side by side along the output dimension of a Conv1D."""
    return _conv1d(tensor, part, arch).chunk(3, dim=0)[part]


def _per_head_qkv(tensor, part, arch):
    """BLOOM / GPT-NeoX query_key_value: output rows grouped per head as [heads, (q, k, v), head_dim]."""
    grouped = tensor.reshape(arch.n_heads, 3, arch.head_dim, *tensor.shape[1:])
    return grouped[:, part].reshape(arch.n_heads * arch.head_dim, *tensor.shape[1:])


def _row_halves(tensor, part, arch):
    """Phi-3 / GLM-4 gate_up_proj [2 * d_ff, d_model]: gate rows, then up rows."""
    return tensor.chunk(2, dim=0)[part]


def _qkv_rows(tensor, part, arch):
    """Phi-3 qkv_proj [(heads + 2 * kv_heads) * head_dim, d_model]: the q rows, then k, then v."""
    q, kv = arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
    return tensor.split([q, kv, kv], dim=0)[part]


def _grouped_qkv(tensor, part, arch):
    """Falcon query_key_value: per KV group, its query heads, then its key, then its value head
    ([kv_heads, heads / kv_heads + 2, head_dim]); one group for multi-query, a (q, k, v) per head for MHA."""
    groups, per_group = arch.n_kv_heads, arch.n_heads // arch.n_kv_heads
    grouped = tensor.reshape(groups, per_group + 2, arch.head_dim, *tensor.shape[1:])
    picked = grouped[:, :per_group] if part == 0 else grouped[:, per_group + part - 1]
    return picked.reshape(-1, *tensor.shape[1:])


def _interleaved_halves(tensor, part, arch):
    """gpt-oss gate_up_proj_bias [experts, 2 * d_ff] with gate and up alternating: gates first, then ups."""
    return _cat((tensor[..., ::2], tensor[..., 1::2]), tensor.dim() - 1)


def _interleaved_halves_transposed(tensor, part, arch):
    """gpt-oss gate_up_proj [experts, d_model, 2 * d_ff] (x @ W, gate and up columns alternating) to our
    [experts, 2 * d_ff, d_model] with gate rows, then up rows."""
    return _interleaved_halves(tensor, part, arch).transpose(1, 2)


def _cat(parts, dim):
    """torch.cat, imported when a layout runs (this module imports no torch)."""
    import torch

    return torch.cat(parts, dim=dim)


def _stacked_transposed(tensor, part, arch):
    """LLaMA 4 stores stacked experts as [experts, d_in, d_out] (x @ W); ours are [experts, d_out, d_in]. Its
    gate_up_proj's gate columns, then up columns, become our gate rows, then up rows."""
    return tensor.transpose(1, 2)


LAYOUTS = {
    "copy": lambda tensor, part, arch: tensor,
    "conv1d": _conv1d,
    "conv1d_qkv": _conv1d_qkv,
    "per_head_qkv": _per_head_qkv,
    "stacked_transposed": _stacked_transposed,
    "row_halves": _row_halves,
    "qkv_rows": _qkv_rows,
    "grouped_qkv": _grouped_qkv,
    "interleaved_halves": _interleaved_halves,
    "interleaved_halves_transposed": _interleaved_halves_transposed,
}


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def _linears(ours: str, theirs: str, names: dict, bias: bool = True, layout: str = "copy") -> dict:
    """weight (and bias) rules for a group of projections under two prefixes: {our_name: their_name}."""
    rules = {}
    for our, their in names.items():
        for suffix in ("weight", "bias") if bias else ("weight",):
            rules[_join(ours, our, suffix)] = src(_join(theirs, their, suffix), layout=layout)
    return rules


def _norms(ours: str, theirs: str, names: dict) -> dict:
    return _linears(ours, theirs, names)  # a norm has weight and (maybe) bias, like a linear


def _fused_qkv(ours: str, theirs: str, layout: str) -> dict:
    return {f"{ours}.{proj}.{suffix}": src(f"{theirs}.{suffix}", layout=layout, part=part)
            for part, proj in enumerate(("q_proj", "k_proj", "v_proj")) for suffix in ("weight", "bias")}


_QKVO = {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "o_proj"}
_GATED_MLP = {"gate_proj": "gate_proj", "up_proj": "up_proj", "down_proj": "down_proj"}


def _llama_like(norms: dict, mlp: str = "mlp") -> dict:
    """model.layers.{i}.self_attn / .mlp / norms, model.norm, lm_head: LLaMA and its descendants."""
    layer = "model.layers.{i}"
    return {
        "embed_tokens.weight": src("model.embed_tokens.weight"),
        **_linears("layers.{i}.attention", f"{layer}.self_attn", _QKVO),
        **_norms("layers.{i}.attention.qk_norm", f"{layer}.self_attn", {"q_norm": "q_norm", "k_norm": "k_norm"}),
        **_linears("layers.{i}.mlp", f"{layer}.{mlp}", _GATED_MLP),
        **_norms("layers.{i}", layer, norms),
        "norm.weight": src("model.norm.weight"),
        "norm.bias": src("model.norm.bias"),
        "lm_head.weight": src("lm_head.weight"),
    }


def _routed_experts(shared: str | None = None, selection_bias: bool = False) -> dict:
    """model.layers.{i}.mlp.gate (router), .experts.gate_up_proj / .down_proj in our stacked layout, and where
    the type has them the shared experts under `shared` and DeepSeek-V3's e_score_correction_bias."""
    layer = "model.layers.{i}.mlp"
    rules = {
        "layers.{i}.mlp.router.weight": src(f"{layer}.gate.weight"),
        "layers.{i}.mlp.experts.gate_up_proj": src(f"{layer}.experts.gate_up_proj"),
        "layers.{i}.mlp.experts.down_proj": src(f"{layer}.experts.down_proj"),
    }
    if shared:
        rules.update(_linears("layers.{i}.mlp.shared_experts", f"{layer}.{shared}", _GATED_MLP))
    if selection_bias:
        rules["layers.{i}.mlp.selection_bias"] = src(f"{layer}.gate.e_score_correction_bias")
    return rules


# DeepSeek's multi-head latent attention under model.layers.{i}.self_attn
_LATENT_ATTENTION = {
    **_linears("layers.{i}.attention", "model.layers.{i}.self_attn",
               {"q_a_proj": "q_a_proj", "q_b_proj": "q_b_proj", "kv_a_proj": "kv_a_proj_with_mqa",
                "kv_b_proj": "kv_b_proj"}),
    **_norms("layers.{i}.attention", "model.layers.{i}.self_attn", {"q_a_norm": "q_a_layernorm", "kv_a_norm": "kv_a_layernorm"}),
}

_PRE_NORMS = {"attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm"}
_DOUBLE_NORMS = {"attn_norm": "input_layernorm", "attn_out_norm": "post_attention_layernorm",
                 "mlp_norm": "pre_feedforward_layernorm", "mlp_out_norm": "post_feedforward_layernorm"}
_REORDERED_NORMS = {"attn_out_norm": "post_attention_layernorm", "mlp_out_norm": "post_feedforward_layernorm"}
_PARALLEL_NORM = {"attn_norm": "input_layernorm"}

_GPT2_LAYER = {
    **_fused_qkv("layers.{i}.attention", "transformer.h.{i}.attn.c_attn", "conv1d_qkv"),
    **_linears("layers.{i}.attention", "transformer.h.{i}.attn", {"o_proj": "c_proj"}, layout="conv1d"),
    **_linears("layers.{i}.mlp", "transformer.h.{i}.mlp", {"up_proj": "c_fc", "down_proj": "c_proj"}, layout="conv1d"),
    **_norms("layers.{i}", "transformer.h.{i}", {"attn_norm": "ln_1", "mlp_norm": "ln_2"}),
}


def _t5_stack(ours: str, theirs: str, decoder: bool) -> dict:
    block = f"{theirs}.block.{{i}}.layer"
    mlp_layer = 2 if decoder else 1
    rules = {
        **_linears(f"{ours}.{{i}}.attention", f"{block}.0.SelfAttention",
                   {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o"}, bias=False),
        f"{ours}.{{i}}.attn_norm.weight": src(f"{block}.0.layer_norm.weight"),
        **_linears(f"{ours}.{{i}}.mlp", f"{block}.{mlp_layer}.DenseReluDense",
                   {"gate_proj": "wi_0", "down_proj": "wo"}, bias=False),
        f"{ours}.{{i}}.mlp.up_proj.weight": src(f"{block}.{mlp_layer}.DenseReluDense.wi_1.weight",
                                                 f"{block}.{mlp_layer}.DenseReluDense.wi.weight"),
        f"{ours}.{{i}}.mlp_norm.weight": src(f"{block}.{mlp_layer}.layer_norm.weight"),
    }
    if decoder:
        rules.update(_linears(f"{ours}.{{i}}.cross_attention", f"{block}.1.EncDecAttention",
                              {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o"}, bias=False))
        rules[f"{ours}.{{i}}.cross_attn_norm.weight"] = src(f"{block}.1.layer_norm.weight")
    return rules


WEIGHTS = {
    "openai-gpt": {
        "embed_tokens.weight": src("transformer.tokens_embed.weight"),
        "embed_positions.weight": src("transformer.positions_embed.weight"),
        **_GPT2_LAYER,
        "lm_head.weight": src("lm_head.weight"),
    },
    "gpt2": {
        "embed_tokens.weight": src("transformer.wte.weight"),
        "embed_positions.weight": src("transformer.wpe.weight"),
        **_GPT2_LAYER,
        **_norms("", "transformer", {"norm": "ln_f"}),
        "lm_head.weight": src("lm_head.weight"),
    },
    "bert": {
        "embed_tokens.weight": src("bert.embeddings.word_embeddings.weight"),
        "embed_positions.weight": src("bert.embeddings.position_embeddings.weight"),
        "embed_token_types.weight": src("bert.embeddings.token_type_embeddings.weight"),
        **_norms("", "bert.embeddings", {"embed_norm": "LayerNorm"}),
        **_linears("layers.{i}.attention", "bert.encoder.layer.{i}.attention",
                   {"q_proj": "self.query", "k_proj": "self.key", "v_proj": "self.value", "o_proj": "output.dense"}),
        **_linears("layers.{i}.mlp", "bert.encoder.layer.{i}", {"up_proj": "intermediate.dense",
                                                                 "down_proj": "output.dense"}),
        **_norms("layers.{i}", "bert.encoder.layer.{i}", {"attn_norm": "attention.output.LayerNorm",
                                                          "mlp_norm": "output.LayerNorm"}),
        **_linears("head_transform", "cls.predictions.transform", {"dense": "dense", "norm": "LayerNorm"}),
        "lm_head.weight": src("cls.predictions.decoder.weight"),
        "lm_head.bias": src("cls.predictions.bias"),
        **_linears("pooler", "bert.pooler", {"dense": "dense"}),
    },
    "t5": {
        "embed_tokens.weight": src("shared.weight"),
        "encoder_relative_bias.relative_attention_bias.weight":
            src("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
        "relative_bias.relative_attention_bias.weight":
            src("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
        **_t5_stack("encoder_layers", "encoder", decoder=False),
        **_t5_stack("layers", "decoder", decoder=True),
        "encoder_norm.weight": src("encoder.final_layer_norm.weight"),
        "norm.weight": src("decoder.final_layer_norm.weight"),
        "lm_head.weight": src("lm_head.weight"),
    },
    "gptj": {
        "embed_tokens.weight": src("transformer.wte.weight"),
        **_linears("layers.{i}.attention", "transformer.h.{i}.attn",
                   {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "out_proj"}),
        **_linears("layers.{i}.mlp", "transformer.h.{i}.mlp", {"up_proj": "fc_in", "down_proj": "fc_out"}),
        **_norms("layers.{i}", "transformer.h.{i}", {"attn_norm": "ln_1"}),
        **_norms("", "transformer", {"norm": "ln_f"}),
        **_linears("", "", {"lm_head": "lm_head"}),
    },
    "gpt_neox": {
        "embed_tokens.weight": src("gpt_neox.embed_in.weight"),
        **_fused_qkv("layers.{i}.attention", "gpt_neox.layers.{i}.attention.query_key_value", "per_head_qkv"),
        **_linears("layers.{i}.attention", "gpt_neox.layers.{i}.attention", {"o_proj": "dense"}),
        **_linears("layers.{i}.mlp", "gpt_neox.layers.{i}.mlp", {"up_proj": "dense_h_to_4h",
                                                                  "down_proj": "dense_4h_to_h"}),
        **_norms("layers.{i}", "gpt_neox.layers.{i}", _PRE_NORMS),
        **_norms("", "gpt_neox", {"norm": "final_layer_norm"}),
        "lm_head.weight": src("lm_head.weight", "embed_out.weight"),
    },
    "opt": {
        "embed_tokens.weight": src("model.decoder.embed_tokens.weight"),
        "embed_positions.weight": src("model.decoder.embed_positions.weight"),
        "embed_proj_in.weight": src("model.decoder.project_in.weight"),
        "embed_proj_out.weight": src("model.decoder.project_out.weight"),
        **_linears("layers.{i}.attention", "model.decoder.layers.{i}.self_attn",
                   {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "out_proj"}),
        **_linears("layers.{i}.mlp", "model.decoder.layers.{i}", {"up_proj": "fc1", "down_proj": "fc2"}),
        **_norms("layers.{i}", "model.decoder.layers.{i}", {"attn_norm": "self_attn_layer_norm",
                                                            "mlp_norm": "final_layer_norm"}),
        **_norms("", "model.decoder", {"norm": "final_layer_norm"}),
        "lm_head.weight": src("lm_head.weight"),
    },
    "bloom": {
        "embed_tokens.weight": src("transformer.word_embeddings.weight"),
        **_norms("", "transformer", {"embed_norm": "word_embeddings_layernorm", "norm": "ln_f"}),
        **_fused_qkv("layers.{i}.attention", "transformer.h.{i}.self_attention.query_key_value", "per_head_qkv"),
        **_linears("layers.{i}.attention", "transformer.h.{i}.self_attention", {"o_proj": "dense"}),
        **_linears("layers.{i}.mlp", "transformer.h.{i}.mlp", {"up_proj": "dense_h_to_4h",
                                                                "down_proj": "dense_4h_to_h"}),
        **_norms("layers.{i}", "transformer.h.{i}", _PRE_NORMS),
        "lm_head.weight": src("lm_head.weight"),
    },
    **{model_type: _llama_like(_PRE_NORMS) for model_type in ("llama", "mistral", "qwen2", "qwen3", "gemma")},
    "olmo2": _llama_like(_REORDERED_NORMS),
    "olmo3": _llama_like(_REORDERED_NORMS),
    "exaone4": _llama_like(_REORDERED_NORMS),
    "qwen3_moe": {**_llama_like(_PRE_NORMS), **_routed_experts()},
    "glm4": {
        **_llama_like({"attn_norm": "input_layernorm", "attn_out_norm": "post_self_attn_layernorm",
                       "mlp_norm": "post_attention_layernorm", "mlp_out_norm": "post_mlp_layernorm"}),
        **{f"layers.{{i}}.mlp.{proj}.weight": src("model.layers.{i}.mlp.gate_up_proj.weight", layout="row_halves",
                                                   part=part) for part, proj in enumerate(("gate_proj", "up_proj"))},
    },
    "phi3": {
        **_llama_like(_PRE_NORMS),
        **{f"layers.{{i}}.attention.{proj}.weight": src("model.layers.{i}.self_attn.qkv_proj.weight", layout="qkv_rows",
                                                        part=part)
           for part, proj in enumerate(("q_proj", "k_proj", "v_proj"))},
        **{f"layers.{{i}}.mlp.{proj}.weight": src("model.layers.{i}.mlp.gate_up_proj.weight", layout="row_halves",
                                                   part=part) for part, proj in enumerate(("gate_proj", "up_proj"))},
    },
    "starcoder2": {
        **_llama_like(_PRE_NORMS),
        **_linears("layers.{i}.mlp", "model.layers.{i}.mlp", {"up_proj": "c_fc", "down_proj": "c_proj"}),
    },
    "stablelm": _llama_like(_PRE_NORMS),
    "smollm3": _llama_like(_PRE_NORMS),
    "olmo": _llama_like({}),  # its norms have no parameters
    "falcon": {
        "embed_tokens.weight": src("transformer.word_embeddings.weight"),
        **_fused_qkv("layers.{i}.attention", "transformer.h.{i}.self_attention.query_key_value", "grouped_qkv"),
        **_linears("layers.{i}.attention", "transformer.h.{i}.self_attention", {"o_proj": "dense"}),
        **_linears("layers.{i}.mlp", "transformer.h.{i}.mlp", {"up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h"}),
        **{f"layers.{{i}}.{ours}.{suffix}": src(*(f"transformer.h.{{i}}.{name}.{suffix}" for name in theirs))
           for ours, theirs in (("attn_norm", ("input_layernorm", "ln_attn")), ("mlp_norm", ("post_attention_layernorm",
                                                                                              "ln_mlp")))
           for suffix in ("weight", "bias")},
        "norm.weight": src("transformer.ln_f.weight"),
        "norm.bias": src("transformer.ln_f.bias"),
        "lm_head.weight": src("lm_head.weight"),
    },
    "granite": _llama_like(_PRE_NORMS),
    "qwen2_moe": {
        **_llama_like(_PRE_NORMS), **_routed_experts(shared="shared_expert"),
        "layers.{i}.mlp.shared_expert_gate.weight": src("model.layers.{i}.mlp.shared_expert_gate.weight"),
    },
    "deepseek_v3": {**_llama_like(_PRE_NORMS), **_LATENT_ATTENTION,
                    **_routed_experts(shared="shared_experts", selection_bias=True)},
    "deepseek_v2": {**_llama_like(_PRE_NORMS), **_LATENT_ATTENTION, **_routed_experts(shared="shared_experts")},
    "glm4_moe": {**_llama_like(_PRE_NORMS), **_routed_experts(shared="shared_experts", selection_bias=True)},
    "gpt_oss": {
        **_llama_like(_PRE_NORMS),
        "layers.{i}.attention.sinks": src("model.layers.{i}.self_attn.sinks"),
        "layers.{i}.mlp.router.weight": src("model.layers.{i}.mlp.router.weight"),
        "layers.{i}.mlp.router.bias": src("model.layers.{i}.mlp.router.bias"),
        "layers.{i}.mlp.experts.gate_up_proj": src("model.layers.{i}.mlp.experts.gate_up_proj",
                                                   layout="interleaved_halves_transposed"),
        "layers.{i}.mlp.experts.input_bias": src("model.layers.{i}.mlp.experts.gate_up_proj_bias",
                                                 layout="interleaved_halves"),
        "layers.{i}.mlp.experts.down_proj": src("model.layers.{i}.mlp.experts.down_proj", layout="stacked_transposed"),
        "layers.{i}.mlp.experts.down_bias": src("model.layers.{i}.mlp.experts.down_proj_bias"),
    },
    "gpt_neo": {
        "embed_tokens.weight": src("transformer.wte.weight"),
        "embed_positions.weight": src("transformer.wpe.weight"),
        **_linears("layers.{i}.attention", "transformer.h.{i}.attn.attention",
                   {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "out_proj"}),
        **_linears("layers.{i}.mlp", "transformer.h.{i}.mlp", {"up_proj": "c_fc", "down_proj": "c_proj"}),
        **_norms("layers.{i}", "transformer.h.{i}", {"attn_norm": "ln_1", "mlp_norm": "ln_2"}),
        "norm.weight": src("transformer.ln_f.weight"),
        "norm.bias": src("transformer.ln_f.bias"),
        "lm_head.weight": src("lm_head.weight"),
    },
    "gemma2": _llama_like(_DOUBLE_NORMS),
    "gemma3_text": _llama_like(_DOUBLE_NORMS),
    "cohere": _llama_like(_PARALLEL_NORM),
    "cohere2": _llama_like(_PARALLEL_NORM),
    "mixtral": {**_llama_like(_PRE_NORMS), **_routed_experts()},
    "llama4_text": {
        **_llama_like(_PRE_NORMS, mlp="feed_forward"),
        "layers.{i}.mlp.router.weight": src("model.layers.{i}.feed_forward.router.weight"),
        "layers.{i}.mlp.experts.gate_up_proj": src("model.layers.{i}.feed_forward.experts.gate_up_proj",
                                                   layout="stacked_transposed"),
        "layers.{i}.mlp.experts.down_proj": src("model.layers.{i}.feed_forward.experts.down_proj",
                                                layout="stacked_transposed"),
        **_linears("layers.{i}.mlp.shared_experts", "model.layers.{i}.feed_forward.shared_expert", _GATED_MLP),
    },
}

# Checkpoint tensors that repeat one another rule reads: tied output heads and T5's per-stack embedding copies.
ALIASES = {
    "bert": ("cls.predictions.decoder.bias",),
    "t5": ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight"),
}
# Buffers that older checkpoints saved beside the weights (causal masks, rotary tables, BERT position ids).
BUFFER_SUFFIXES = (".attn.bias", ".attn.masked_bias", ".inv_freq", "embeddings.position_ids")
TIED_HEAD_NAMES = {model_type: rules["lm_head.weight"].names for model_type, rules in WEIGHTS.items()}
