"""Parity with transformers: per model type, a tiny randomly initialised transformers model, its weights loaded
into ours, gives the same logits (fp32, CPU, 1e-4) on plain and left-padded batches, and the same greedy tokens
from plain and left-padded prompts. transformers gets its own default positions, derived from the attention mask
as its generate derives them; ours count from each row's first real token without being told.

Each tiny spec keeps its record's choices (norms, positions, layer and MoE patterns, quirks) at small widths,
with a window of 8 so the 24-token inputs and 20-token generations cross every local window and chunk.
"""

import dataclasses
import inspect

import pytest
import torch

from builder import build
from builder.hf import WeightLoadError, hf_config_from_spec, hf_model, load_hf_weights
from zoo.schema import Arch
from zoo.specfile import load_specs, spec_paths

RECORDS = {record.key: record for record in load_specs(spec_paths())}
VOCAB, LENGTH, WINDOW = 128, 24, 8

# model type (and variant) -> the catalogued record whose choices the tiny model keeps
CASES = {
    "openai-gpt": "gpt-1", "bert": "bert-large", "gpt2": "gpt2-xl", "t5": "t5-11b", "t5-v1.1": "t5-v1_1-xxl",
    "gptj": "gpt-j-6b", "gpt_neox": "gpt-neox-20b", "opt": "opt-175b", "opt-350m-post-norm": "opt-350m",
    "bloom": "bloom-176b", "llama": "llama-3.1-405b", "mistral": "mistral-7b", "mixtral": "mixtral-8x7b",
    "gemma": "gemma-7b", "gemma2": "gemma-2-27b", "gemma3_text": "gemma-3-27b", "cohere": "command-r-plus",
    "cohere2": "command-a", "qwen2": "qwen2.5-7b", "qwen3": "qwen3-8b", "olmo2": "olmo-2-7b",
    "llama4_text": "llama-4-scout", "llama4_text-interleaved-moe": "llama-4-maverick",
}
# DeepSeek's attention at toy size: 3 layers, MLA with a low-rank query, a 24-wide query/key head of which 8 rotate
_TINY_MLA = {"n_layers": 3, "n_kv_heads": 6, "head_dim": 24, "rotary_fraction": 1 / 3, "rope_layout": "interleaved",
             "mla": {"q_lora_rank": 48, "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8,
                     "v_head_dim": 12}}
_TINY_YARN = {"kind": "yarn", "factor": 4.0, "original_context_length": 16, "beta_fast": 32.0, "beta_slow": 1.0}
_TINY_MOE = {"n_experts": 4, "experts_per_token": 2, "n_shared_experts": 0, "expert_d_ff": 32, "gate_input": "output"}
# Types no catalogued record uses: model type (and variant) -> (the type, a record, the changes that make its
# tiny spec one that type expresses, with odd shapes where the type allows them).
TYPE_CASES = {
    "qwen3_moe": ("qwen3_moe", "qwen3-8b", {"d_ff": 32, "moe": {**_TINY_MOE, "router": "topk-softmax",
                                                                  "moe_pattern": "M"}}),
    "qwen3_moe-sparse-step": ("qwen3_moe", "qwen3-8b", {
        "n_layers": 4, "d_ff": 96, "moe": {**_TINY_MOE, "router": "softmax-topk", "moe_pattern": "DM"}}),
    "olmo3": ("olmo3", "olmo-2-7b", {"n_layers": 4, "n_kv_heads": 3, "layer_pattern": "LLLG",
                                     "local_attention": "sliding", "sliding_window": WINDOW}),
    # YaRN on the global layers only, with its default ramp and attention factor (Olmo 3 long context)
    "olmo3-yarn": ("olmo3", "olmo-2-7b", {"n_layers": 4, "n_kv_heads": 3, "layer_pattern": "LLLG",
                                          "local_attention": "sliding", "sliding_window": WINDOW, "rope_scaling": {
                                              "kind": "yarn", "factor": 8.0, "original_context_length": 16,
                                              "global_only": True}}),
    # YaRN on every layer with DeepSeek's mscale pair and an unrounded ramp (gpt-oss's truncate=false)
    "llama-yarn": ("llama", "llama-3-8b", {"rope_scaling": {
        "kind": "yarn", "factor": 4.0, "original_context_length": 16, "beta_fast": 16.0, "beta_slow": 2.0,
        "truncate": False, "mscale": 0.707, "mscale_all_dim": 1.0}}),
    "exaone4": ("exaone4", "olmo-2-7b", {"n_layers": 4, "n_kv_heads": 3, "qk_norm": "head", "layer_pattern": "LLLG",
                                         "local_attention": "sliding", "sliding_window": WINDOW, "global_nope": True}),
    "glm4": ("glm4", "llama-3-8b", {"norm_position": "double", "qkv_bias": True, "rope_layout": "interleaved",
                                    "rotary_fraction": 0.5, "head_dim": 24}),
    "phi3": ("phi3", "llama-3-8b", {"rotary_fraction": 0.75, "layer_pattern": "L", "local_attention": "sliding",
                                    "sliding_window": WINDOW}),
    "starcoder2": ("starcoder2", "mistral-7b", {"norm": "layernorm", "norm_bias": True, "activation": "gelu",
                                                "gelu_tanh": True, "linear_bias": True, "qkv_bias": True}),
    "stablelm": ("stablelm", "llama-2-7b", {"norm": "layernorm", "norm_bias": True, "rotary_fraction": 0.25,
                                            "qkv_bias": True}),
    "stablelm-parallel": ("stablelm", "llama-2-7b", {"norm": "layernorm", "norm_bias": True, "rotary_fraction": 0.25,
                                                     "parallel_block": True, "parallel_shared_norm": True}),
    "qwen2_moe": ("qwen2_moe", "qwen2.5-7b", {"n_layers": 4, "d_ff": 96, "moe": {
        **_TINY_MOE, "router": "softmax-topk", "n_shared_experts": 2, "shared_expert_gate": True,
        "moe_pattern": "DM"}}),
    "smollm3": ("smollm3", "llama-3-8b", {"n_layers": 4, "nope_pattern": "RRRN"}),
    "granite": ("granite", "llama-3-8b", {"embedding_multiplier": 12.0, "residual_multiplier": 0.22,
                                          "query_scale": 256.0, "output_multiplier": 0.125}),
    "gemma2-query-scalar": ("gemma2", "gemma-2-27b", {"query_scale": 40.0}),  # neither head_dim nor d / heads
    "olmo": ("olmo", "llama-2-7b", {"norm": "layernorm", "norm_affine": False, "clip_qkv": 0.3}),
    "falcon": ("falcon", "gpt-j-6b", {"n_kv_heads": 1, "rope_layout": "half", "tied_embeddings": True,  # Falcon-7B
                                      "output_bias": False, "rotary_fraction": 1.0, "mlp_bias": None}),
    "falcon-new-decoder": ("falcon", "gpt-neox-20b", {"n_kv_heads": 3, "parallel_shared_norm": False,  # Falcon-40B
                                                      "rotary_fraction": 1.0, "tied_embeddings": True}),
    "falcon-serial": ("falcon", "gpt-neox-20b", {"parallel_block": False, "parallel_shared_norm": True,
                                                 "rotary_fraction": 1.0}),
    # DeepSeek-V3 at toy size: MLA with a low-rank query, YaRN with its mscale pair, a leading dense layer, then
    # sigmoid routing over 8 experts in 4 groups (2 kept) with a selection bias, a shared expert, scaled weights
    "deepseek_v3": ("deepseek_v3", "llama-3-8b", {
        **_TINY_MLA, "rope_scaling": {**_TINY_YARN, "mscale": 1.0, "mscale_all_dim": 1.0},
        "moe": {"n_experts": 8, "experts_per_token": 2, "n_shared_experts": 1, "expert_d_ff": 32,
                "router": "sigmoid-topk", "n_groups": 4, "top_groups": 2, "routed_scaling": 2.5,
                "selection_bias": True, "first_dense": 1}}),
    "deepseek_v3-full-rank-query": ("deepseek_v3", "llama-3-8b", {
        "n_layers": 2, "n_kv_heads": 6, "head_dim": 24, "rotary_fraction": 1 / 3, "rope_layout": "half",
        "mla": {"kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 24},
        "moe": {"n_experts": 4, "experts_per_token": 2, "n_shared_experts": 2, "expert_d_ff": 32,
                "router": "sigmoid-topk", "selection_bias": True}, "d_ff": 32}),
    # DeepSeek-V2 at toy size: softmax scores limited to 2 of 4 groups, not renormalised, scaled by 16
    "deepseek_v2": ("deepseek_v2", "llama-3-8b", {
        **_TINY_MLA, "rope_scaling": {**_TINY_YARN, "mscale": 0.707, "mscale_all_dim": 0.707},
        "moe": {"n_experts": 8, "experts_per_token": 3, "n_shared_experts": 2, "expert_d_ff": 32,
                "router": "softmax-topk", "n_groups": 4, "top_groups": 2, "routed_scaling": 16.0, "first_dense": 1}}),
    # GLM-4.5 at toy size: GQA with q/k/v biases, per-head QK-norm and half the head rotated, two leading dense
    # layers, then DeepSeek-V3's routing without groups
    "glm4_moe": ("glm4_moe", "qwen3-8b", {
        "n_layers": 3, "qkv_bias": True, "rotary_fraction": 0.5, "mtp_layers": 1,
        "moe": {"n_experts": 8, "experts_per_token": 2, "n_shared_experts": 1, "expert_d_ff": 32,
                "router": "sigmoid-topk", "routed_scaling": 2.5, "selection_bias": True, "first_dense": 2}}),
    # gpt-oss at toy size: sinks, alternating sliding and full layers, biased attention, experts and router, the
    # clamped SwiGLU (a limit small enough to clamp) and YaRN without truncation
    "gpt_oss": ("gpt_oss", "mixtral-8x7b", {
        "attention_sinks": True, "activation": "clamped-swiglu", "glu_limit": 0.5, "glu_alpha": 1.702,
        "qkv_bias": True, "linear_bias": True, "layer_pattern": "LG", "local_attention": "sliding",
        "sliding_window": WINDOW, "n_layers": 2, "rope_scaling": {"kind": "yarn", "factor": 4.0,
                                                                  "original_context_length": 16, "truncate": False},
        "moe": {**_TINY_MOE, "router": "topk-softmax", "router_bias": True, "expert_bias": True,
                "moe_pattern": "M"}, "d_ff": 32}),
    "gpt_neo": ("gpt_neo", "gpt2-xl", {"layer_pattern": "GL", "local_attention": "sliding", "sliding_window": WINDOW,
                                       "query_scale": "none", "qkv_bias": False}),
}
TOLERANCE = 1e-4


def tiny_spec(key: str):
    """The record's architecture at d_model 96, 6 heads (GQA: 3 KV heads, so 3 groups of 2), vocab 128, enough
    layers for one full layer pattern."""
    arch = RECORDS[key].architecture
    kv_heads = 1 if arch.n_kv_heads == 1 else (6 if arch.n_kv_heads == arch.n_heads else 3)
    moe_pattern = len(arch.moe.moe_pattern) if arch.moe else 1
    update = dict(d_model=96, n_heads=6, n_kv_heads=kv_heads, d_ff=384, vocab_size=VOCAB, context_length=64,
                  dropout=0.0, n_layers=max(2, len(arch.layer_pattern), moe_pattern),
                  # keep a head width that differs from d_model / n_heads where the record's does (Gemma 2/3)
                  head_dim=16 if arch.head_dim * arch.n_heads == arch.d_model else 24)
    if arch.n_encoder_layers:
        update["n_encoder_layers"] = 2
    if arch.sliding_window:
        update["sliding_window"] = WINDOW
    if arch.embedding_dim:
        update["embedding_dim"] = 32
    if arch.moe:
        update["moe"] = {**arch.moe.model_dump(), "n_experts": 4, "expert_d_ff": 32}
        if "D" not in arch.moe.moe_pattern:
            update["d_ff"] = 32  # no dense layer: d_ff is the expert (and shared expert) width
    if arch.rope_scaling and arch.rope_scaling.original_context_length:
        update["rope_scaling"] = {**arch.rope_scaling.model_dump(), "original_context_length": 16}
    if arch.nope_query_temperature:
        update["nope_query_temperature"] = {**arch.nope_query_temperature.model_dump(), "floor_scale": 8}
    return type(arch).model_validate({**arch.model_dump(), **update})


def case_spec(case: str):
    """The tiny spec of a CASES or TYPE_CASES entry, and the model type it must be written as (None: chosen)."""
    if case in CASES:
        return tiny_spec(CASES[case]), None
    model_type, key, changes = TYPE_CASES[case]
    spec = tiny_spec(key)
    return type(spec).model_validate({**spec.model_dump(), **changes}), model_type


def reference_and_ours(case: str):
    """A transformers model with every parameter perturbed (so zero biases and unit norms are tested too),
    and our model built from the same spec with its weights loaded."""
    spec, model_type = case_spec(case)
    config = hf_config_from_spec(spec, model_type)
    config._attn_implementation = "eager"
    # transformers initialises from the global generator: seed it, so a case's weights do not depend on which tests
    # ran before (top-k routing is discrete, and a draw that leaves two experts within rounding of each other lets
    # 1e-5 of honest float difference pick another expert)
    torch.manual_seed(0)
    reference = hf_model(config, device="cpu").eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
        for name, buffer in reference.named_buffers():  # DeepSeek-V3's selection bias: large enough to change picks
            if name.endswith("e_score_correction_bias"):
                buffer.add_(torch.randn(buffer.shape, generator=generator) * 0.5)
    ours = build(spec, device="cpu", seed=1).eval()
    load_hf_weights(ours, reference.state_dict(), config.model_type)
    return spec, reference, ours


def _ids(seed: int, length: int = LENGTH, batch: int = 2):
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def _reference_positions(reference, ids, mask) -> dict:
    """transformers' position ids for a batch, exactly as its generate makes them from the attention mask (for
    BERT too, which cannot generate); none where generate passes none (BLOOM reads positions off the mask itself,
    encoder-decoders count columns)."""
    from transformers import GenerationMixin

    if reference.config.is_encoder_decoder or "position_ids" not in inspect.signature(reference.forward).parameters:
        return {}
    positions = GenerationMixin._prepare_position_ids_for_generation(reference, ids, {"attention_mask": mask})
    return {"position_ids": positions}


def _logits(spec, reference, ours, ids, mask=None):
    encoder_ids = _ids(7, 20)
    with torch.no_grad():
        if spec.arch is Arch.encoder_decoder:
            expected = reference(input_ids=encoder_ids, decoder_input_ids=ids, decoder_attention_mask=mask).logits
            return expected, ours(ids, mask, encoder_input_ids=encoder_ids)
        expected = reference(input_ids=ids, attention_mask=mask, **_reference_positions(reference, ids, mask))
        return expected.logits, ours(ids, mask)


def _temperature_counts_columns(spec) -> bool:
    """transformers' LLaMA 4 scales NoPE-layer queries by column index (left padding counted as text); ours
    by the token's position in its row, so only there do our left-padded rows deliberately differ from its."""
    return spec.nope_query_temperature is not None


@pytest.fixture(scope="module", params=sorted({**CASES, **TYPE_CASES}))
def models(request):
    return reference_and_ours(request.param)


def test_logits_match_on_a_plain_batch(models):
    """Within 1e-4, and within 1e-5 of the logits' scale: fp32 rounding stays near 1e-6 of it, while a constant
    that differs (an epsilon, a scale) shows as 1e-5 or more."""
    spec, reference, ours = models
    expected, got = _logits(spec, reference, ours, _ids(1))
    difference = (expected - got).abs().max().item()
    assert difference < TOLERANCE and difference < 1e-5 * (1 + expected.abs().max().item())


def _padded_difference(models, pad: int = 5):
    """Max |diff| over the unpadded row and over the real tokens of a row left-padded by `pad` (not a whole
    number of windows, so a padded row's windows and chunks start mid-way through a column window)."""
    spec, reference, ours = models
    ids, mask = _ids(2), torch.ones(2, LENGTH, dtype=torch.long)
    mask[1, :pad] = 0
    expected, got = _logits(spec, reference, ours, ids, mask)
    difference = (expected - got).abs()
    return difference[0].max().item(), difference[1][mask[1].bool()].max().item()


def test_logits_match_on_a_left_padded_batch(models, monkeypatch):
    spec, reference, ours = models
    plain_row, padded_row = _padded_difference(models)
    assert plain_row < TOLERANCE
    if not _temperature_counts_columns(spec):
        assert padded_row < TOLERANCE
        return
    # Ours is padding-invariant: the padded row equals transformers on the same tokens unpadded ...
    pad, ids = 5, _ids(2)
    with torch.no_grad():
        unpadded = reference(input_ids=ids[1:, pad:]).logits[0]
        mask = torch.ones(2, LENGTH, dtype=torch.long)
        mask[1, :pad] = 0
        got = ours(ids, mask)[1, pad:]
    assert (unpadded - got).abs().max().item() < TOLERANCE
    # ... and the NoPE temperature is the whole difference: without it the padded rows agree too.
    assert padded_row > 10 * TOLERANCE
    for module in reference.modules():
        if hasattr(module, "attn_temperature_tuning"):
            monkeypatch.setattr(module, "attn_temperature_tuning", False)
    for _, module in ours.attention_modules():
        monkeypatch.setattr(module, "plan", dataclasses.replace(module.plan, temperature=None))
    assert max(_padded_difference(models)) < TOLERANCE


def test_greedy_generation_matches_transformers_generate(models):
    """From a batch of one full and one left-padded prompt (for encoder-decoders, encoder input): same tokens."""
    spec, reference, ours = models
    if spec.arch is Arch.encoder:
        with pytest.raises(ValueError, match="does not generate"):
            ours.generate(_ids(3, 4), max_new_tokens=2)
        return
    reference.generation_config.eos_token_id = None
    new = 20
    if spec.arch is Arch.encoder_decoder:
        encoder_ids, start = _ids(4, 12), torch.zeros(2, 1, dtype=torch.long)
        encoder_mask = torch.ones(2, 12, dtype=torch.long)
        encoder_mask[1, :3] = 0  # encoder row 1 left-padded by 3
        expected = reference.generate(input_ids=encoder_ids, attention_mask=encoder_mask, decoder_start_token_id=0,
                                      max_new_tokens=new, do_sample=False, pad_token_id=0)
        got = ours.generate(start, new, encoder_input_ids=encoder_ids, encoder_attention_mask=encoder_mask)
    else:
        prompt, mask = _ids(5, 8), torch.ones(2, 8, dtype=torch.long)
        mask[1, :3] = 0  # row 1 left-padded by 3
        expected = reference.generate(prompt, attention_mask=mask, max_new_tokens=new, do_sample=False,
                                      pad_token_id=0)
        if _temperature_counts_columns(spec):  # transformers' padded row is not its unpadded one; ours is
            expected[1, 3:] = reference.generate(prompt[1:, 3:], attention_mask=mask[1:, 3:], max_new_tokens=new,
                                                 do_sample=False, pad_token_id=0)[0]
        got = ours.generate(prompt, new, mask)
    assert torch.equal(expected, got)


# ---- loading: files, shards and errors -------------------------------------------------------------------

def test_safetensors_file_and_sharded_directory_load_the_same_weights(tmp_path):
    from safetensors.torch import save_file

    spec, reference, ours = reference_and_ours("llama")
    reference.save_pretrained(tmp_path / "shards", max_shard_size="100KB")
    assert len(list((tmp_path / "shards").glob("*.safetensors"))) > 1
    state = {name: tensor.contiguous() for name, tensor in reference.state_dict().items()}
    save_file(state, tmp_path / "model.safetensors")
    ids = _ids(6)
    with torch.no_grad():
        expected = ours(ids)
        for checkpoint in (tmp_path / "shards", tmp_path / "model.safetensors"):
            fresh = build(spec, device="cpu", seed=2).eval()
            load_hf_weights(fresh, checkpoint)
            assert torch.equal(fresh(ids), expected)


def test_missing_and_unexpected_tensors_are_all_listed_before_anything_is_copied():
    spec, reference, _ = reference_and_ours("gpt2")
    state = dict(reference.state_dict())
    del state["transformer.h.1.attn.c_attn.weight"]
    state["transformer.h.9.mlp.c_fc.weight"] = torch.zeros(1)
    fresh = build(spec, device="cpu", seed=2)
    before = fresh.layers[0].attention.q_proj.weight.clone()
    with pytest.raises(WeightLoadError) as error:
        load_hf_weights(fresh, state)
    assert error.value.problems == [
        f"missing: layers.1.attention.{proj}.weight <- transformer.h.1.attn.c_attn.weight" for proj in ("q_proj", "k_proj", "v_proj")
    ] + ["unexpected: transformer.h.9.mlp.c_fc.weight"]
    assert torch.equal(fresh.layers[0].attention.q_proj.weight, before)


def test_a_tensor_of_the_wrong_shape_is_reported_with_both_shapes():
    spec, reference, _ = reference_and_ours("llama")
    state = dict(reference.state_dict())
    state["model.norm.weight"] = torch.ones(spec.d_model + 1)
    with pytest.raises(WeightLoadError, match=rf"shape: norm.weight \({spec.d_model},\) <- model.norm.weight gives "
                                              rf"\({spec.d_model + 1},\)"):
        load_hf_weights(build(spec, device="cpu", seed=2), state)


def test_tied_head_is_loaded_once_and_stays_tied():
    spec, reference, ours = reference_and_ours("gemma")
    assert spec.tied_embeddings and "lm_head.weight" in reference.state_dict()
    assert ours.lm_head.weight is ours.embed_tokens.weight
    assert torch.equal(ours.embed_tokens.weight, reference.state_dict()["model.embed_tokens.weight"])
