import math

import pytest
import torch

from builder import build, scale
from builder.network.model import Transformer
from tests.builder.helpers import inputs_for, tiny_arch

torch.set_num_threads(2)

CACHE_CASES = {
    "rope_gqa": {},
    "sliding_and_global": dict(n_layers=4, layer_pattern="LG", local_attention="sliding", sliding_window=5),
    "chunked_nope_temperature": dict(
        n_layers=4, layer_pattern="LLLG", local_attention="chunked", sliding_window=6, global_nope=True,
        nope_query_temperature={"floor_scale": 4, "scale": 0.1}, qk_norm="l2", rope_layout="interleaved"),
    "all_sliding_softcapped": dict(layer_pattern="L", local_attention="sliding", sliding_window=4,
                                   attn_softcap=20.0, final_softcap=5.0, norm_position="double",
                                   norm_unit_offset=True, query_scale="d_model_over_heads"),
    "alibi_layernorm": dict(position="alibi", rope_theta=None, rotary_fraction=None, rope_layout=None,
                            norm="layernorm", norm_bias=True, embedding_norm=True, linear_bias=True, qkv_bias=True),
    "learned_post_norm": dict(position="learned", position_offset=2, rope_theta=None, rotary_fraction=None,
                              rope_layout=None, norm_position="post", activation="relu", embedding_dim=16),
    "xl_relative": dict(position="xl-relative", rope_theta=None, rotary_fraction=None, rope_layout=None),
    "parallel_moe": dict(parallel_block=True, parallel_shared_norm=False, rotary_fraction=0.5,
                         moe={"n_experts": 4, "experts_per_token": 2, "expert_d_ff": 16, "router": "topk-softmax",
                              "n_shared_experts": 1}),
    "latent_attention_yarn": dict(
        n_layers=3, n_kv_heads=4, head_dim=12, rotary_fraction=1 / 3, rope_layout="interleaved",
        mla={"q_lora_rank": 12, "kv_lora_rank": 10, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 6},
        rope_scaling={"kind": "yarn", "factor": 4.0, "original_context_length": 16, "mscale": 1.0,
                      "mscale_all_dim": 1.0},
        moe={"n_experts": 4, "experts_per_token": 2, "expert_d_ff": 16, "router": "sigmoid-topk",
             "n_shared_experts": 1, "first_dense": 1, "selection_bias": True, "routed_scaling": 2.5}),
    "t5_encoder_decoder": dict(arch="encoder-decoder", n_encoder_layers=2, position="relative-bias",
                               relative_buckets=8, relative_max_distance=16, rope_theta=None, rotary_fraction=None,
                               rope_layout=None, query_scale="none", tied_embeddings=True,
                               output_multiplier="inv_sqrt_d_model"),
    "sinusoidal_encoder_decoder": dict(arch="encoder-decoder", n_encoder_layers=1, position="sinusoidal",
                                       rope_theta=None, rotary_fraction=None, rope_layout=None,
                                       norm_position="reordered", embedding_multiplier="sqrt_d_model"),
}


def _model(changes, seed=0):
    model = build(tiny_arch(**changes), seed=seed)
    return model.eval()


@pytest.mark.parametrize("name", list(CACHE_CASES))
def test_cached_decoding_matches_full_recompute(name):
    """Prefill, then one token at a time and a 3-token step, past windows and chunks: every position's logits
    equal those of one full forward (fp32, 1e-5)."""
    model = _model(CACHE_CASES[name])
    inputs = inputs_for(model, length=23)
    ids = inputs.pop("input_ids")
    with torch.no_grad():
        full = model(ids, **inputs)
        cache = model.new_cache(23)
        pieces = [model(ids[:, :7], cache=cache, **inputs)]
        for start in range(7, 16):
            pieces.append(model(ids[:, start:start + 1], cache=cache))
        pieces.append(model(ids[:, 16:19], cache=cache))
        for start in range(19, 23):
            pieces.append(model(ids[:, start:start + 1], cache=cache))
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    for block, layer_cache in zip(model.layers, cache.layers):
        if block.plan.window is not None:
            assert layer_cache.k.shape[2] < block.plan.window  # local layers keep only what later queries see


def test_latent_attention_decode_steps_in_latent_space_equal_the_full_forward():
    """MLA's decode steps fold kv_b_proj into the queries and outputs instead of up-projecting the cached latents;
    with weights large enough for peaked attention (random init leaves it near uniform), every step's logits
    equal those of one full forward."""
    model = _model(CACHE_CASES["latent_attention_yarn"])
    ids = inputs_for(model, length=16)["input_ids"]
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "proj" in name and "experts" not in name:
                weight.mul_(6)
        full = model(ids)
        cache = model.new_cache(16)
        pieces = [model(ids[:, :6], cache=cache)] + [model(ids[:, i:i + 1], cache=cache) for i in range(6, 16)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-4, rtol=1e-4)


def test_decode_steps_write_the_cache_in_place_with_fixed_shapes():
    """After the prompt, every one-token step reuses the same cache tensors (no regrowing, no copies of the
    past): global layers hold the requested capacity, local layers a ring of window - 1 columns; a step past
    the capacity is refused."""
    model = _model(CACHE_CASES["sliding_and_global"])
    ids = inputs_for(model, length=12)["input_ids"]
    cache = model.new_cache(12)
    with torch.no_grad():
        model(ids[:, :4], cache=cache)
        storage = [(layer.k.data_ptr(), layer.v.data_ptr(), layer.k.shape) for layer in cache.layers]
        for i in range(4, 12):
            model(ids[:, i:i + 1], cache=cache)
        assert [(layer.k.data_ptr(), layer.v.data_ptr(), layer.k.shape) for layer in cache.layers] == storage
        assert [layer.k.shape[2] for layer in cache.layers] == [
            12 if block.plan.window is None else block.plan.window - 1 for block in model.layers]
        with pytest.raises(ValueError, match="holds 12 tokens"):
            model(ids[:, :1], cache=cache)


LEFT_PADDED_CASES = ["sliding_and_global", "learned_post_norm", "chunked_nope_temperature", "latent_attention_yarn"]


@pytest.mark.parametrize("name", LEFT_PADDED_CASES)
def test_cached_decoding_with_left_padding_matches_full_recompute(name):
    """Row 0 left-padded by 4 (not a whole window or chunk): prefill, then single tokens past windows and chunks
    give the real tokens' logits of one full forward (fp32, 1e-5)."""
    model = _model(CACHE_CASES[name])
    ids = inputs_for(model, length=20)["input_ids"]
    mask = torch.ones(2, 20, dtype=torch.long)
    mask[0, :4] = 0
    with torch.no_grad():
        full = model(ids, mask)
        cache = model.new_cache(20)
        pieces = [model(ids[:, :9], mask[:, :9], cache=cache)]
        pieces += [model(ids[:, i:i + 1], cache=cache) for i in range(9, 20)]
    cached = torch.cat(pieces, dim=1)
    torch.testing.assert_close(cached[0, 4:], full[0, 4:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cached[1], full[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", [*LEFT_PADDED_CASES, "alibi_layernorm", "xl_relative", "t5_encoder_decoder",
                                  "sinusoidal_encoder_decoder"])
def test_left_padding_does_not_change_a_rows_logits(name):
    """Every positional scheme counts from a row's first real token: a row left-padded by 5 gives the logits of
    the same tokens alone (encoder-decoders: the decoder row, and a left-padded encoder row)."""
    model = _model(CACHE_CASES[name])
    inputs = inputs_for(model, length=16)
    ids = inputs.pop("input_ids")
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[0, :5] = 0
    alone = {key: value[:1] for key, value in inputs.items()}
    if "encoder_input_ids" in inputs:
        encoder_mask = torch.ones_like(inputs["encoder_input_ids"])
        encoder_mask[0, :3] = 0
        inputs["encoder_attention_mask"] = encoder_mask
        alone["encoder_input_ids"] = inputs["encoder_input_ids"][:1, 3:]
    with torch.no_grad():
        padded = model(ids, mask, **inputs)[0, 5:]
        expected = model(ids[:1, 5:], **alone)[0]
    torch.testing.assert_close(padded, expected, atol=1e-5, rtol=1e-5)


def test_explicit_position_ids_replace_those_counted_from_the_mask():
    model = _model(CACHE_CASES["learned_post_norm"])
    ids = inputs_for(model, length=10)["input_ids"]
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[0, :3] = 0
    counted = torch.tensor([[0, 0, 0, *range(7)], list(range(10))])
    columns = torch.arange(10)[None]
    with torch.no_grad():
        torch.testing.assert_close(model(ids, mask, position_ids=counted), model(ids, mask))
        shifted = model(ids, mask, position_ids=columns)
    assert not torch.allclose(shifted[0, 3:], model(ids, mask)[0, 3:])
    torch.testing.assert_close(shifted[1], model(ids, mask)[1])


def test_generate_from_a_left_padded_prompt_continues_each_row_as_if_unpadded():
    model = _model(CACHE_CASES["chunked_nope_temperature"])
    prompt = inputs_for(model, length=7)["input_ids"]
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[0, :3] = 0
    out = model.generate(prompt, max_new_tokens=10, attention_mask=mask)
    assert torch.equal(out[0, 3:], model.generate(prompt[:1, 3:], max_new_tokens=10)[0])
    assert torch.equal(out[1], model.generate(prompt[1:], max_new_tokens=10)[0])


def test_generate_is_greedy_over_full_recompute():
    model = _model(CACHE_CASES["sliding_and_global"])
    prompt = inputs_for(model, length=5)["input_ids"]
    out = model.generate(prompt, max_new_tokens=12)
    assert out.shape == (2, 17) and torch.equal(out[:, :5], prompt)
    with torch.no_grad():
        logits = model(out[:, :-1])
    assert torch.equal(logits[:, 4:].argmax(-1), out[:, 5:])


def test_encoder_decoder_generates_from_encoder_inputs():
    model = _model(CACHE_CASES["t5_encoder_decoder"])
    inputs = inputs_for(model, length=3)
    out = model.generate(inputs["input_ids"], 4, encoder_input_ids=inputs["encoder_input_ids"])
    assert out.shape == (2, 7)


@pytest.mark.parametrize("name", ["rope_gqa", "chunked_nope_temperature", "alibi_layernorm", "t5_encoder_decoder",
                                  "learned_post_norm", "xl_relative", "parallel_moe"])
def test_meta_build_materialised_equals_direct_cpu_build(name):
    arch = tiny_arch(**CACHE_CASES[name])
    materialised = build(arch, device="meta")
    materialised.to_empty(device="cpu")
    materialised.init_weights(seed=3)
    direct = Transformer(arch)  # constructed on CPU: buffers computed by the constructors
    direct.init_weights(seed=3)
    for (name_a, a), (name_b, b) in zip(materialised.state_dict().items(), direct.state_dict().items()):
        assert name_a == name_b and torch.equal(a, b)
    for (name_a, a), (_, b) in zip(materialised.named_buffers(), direct.named_buffers()):
        assert torch.equal(a, b), name_a
    inputs = inputs_for(direct)
    with torch.no_grad():
        assert torch.equal(materialised.eval()(**inputs), direct.eval()(**inputs))


def test_seeded_builds_are_identical_and_seeds_differ():
    arch = tiny_arch()
    a, b, c = build(arch, seed=1), build(arch, seed=1), build(arch, seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.layers[0].attention.q_proj.weight, c.layers[0].attention.q_proj.weight)


def test_tied_embeddings_share_one_tensor_after_materialising():
    model = build(tiny_arch(tied_embeddings=True), seed=0)
    assert model.lm_head.weight is model.embed_tokens.weight


def test_z_loss_adds_coefficient_times_mean_squared_log_partition():
    plain, with_z = _model({}), _model({"z_loss": 1e-2})
    ids = inputs_for(plain)["input_ids"]
    labels = ids.clone()
    labels[0, :3] = -100
    logits, loss = plain(ids, labels=labels)
    _, loss_z = with_z(ids, labels=labels)
    keep = labels != -100
    cross_entropy = -logits.log_softmax(-1).gather(-1, labels.clamp(min=0)[..., None])[..., 0][keep].mean()
    log_z = logits.logsumexp(-1)[keep]
    torch.testing.assert_close(loss, cross_entropy)
    torch.testing.assert_close(loss_z, cross_entropy + 1e-2 * (log_z**2).mean())


def test_final_softcap_bounds_logits():
    model = _model({"final_softcap": 0.5})
    with torch.no_grad():
        model.lm_head.weight.mul_(1000)
        logits = model(inputs_for(model)["input_ids"])
    assert logits.abs().max() <= 0.5 and logits.abs().max() > 0.49


def test_embedding_multiplier_is_rounded_to_the_activation_dtype_like_gemma():
    model = build(tiny_arch(embedding_multiplier="sqrt_d_model", n_layers=1), seed=0)
    ids = torch.tensor([[1, 2]])
    expected = model.embed_tokens(ids) * torch.tensor(math.sqrt(32), dtype=torch.float32)
    torch.testing.assert_close(model._embed(ids, torch.arange(2)), expected)


def test_backends_report_per_layer_and_forced_backends_agree():
    model = _model(CACHE_CASES["sliding_and_global"])
    assert model.attention_backends() == {f"layers.{i}.attention": "sdpa" for i in range(4)}
    assert set(model.attention_backends("cuda").values()) == {"sdpa", "flex"}
    inputs = inputs_for(model)
    with torch.no_grad():
        reference = model(**inputs)
        model.set_attention_backend("eager")
        torch.testing.assert_close(model(**inputs), reference, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="accepted"):
        model.set_attention_backend("fast")


def test_softcapped_models_use_eager_on_cpu_and_refuse_sdpa():
    model = _model(CACHE_CASES["all_sliding_softcapped"])
    assert set(model.attention_backends().values()) == {"eager"}
    with pytest.raises(ValueError, match="soft-cap"):
        model.set_attention_backend("sdpa")


def test_bert_style_encoder_with_pooler_and_token_types():
    arch = tiny_arch(arch="encoder", position="learned", rope_theta=None, rotary_fraction=None, rope_layout=None,
                     norm="layernorm", norm_bias=True, norm_position="post", final_norm=False, activation="gelu",
                     linear_bias=True, qkv_bias=True, tied_embeddings=True, output_bias=True,
                     output_head="transform", embedding_norm=True, token_types=2, pooler=True)
    model = build(arch, seed=0)
    ids = inputs_for(model)["input_ids"]
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    assert model(ids, token_type_ids=types).shape == (2, 12, 97)
    assert not torch.equal(model(ids, token_type_ids=types), model(ids))
    assert model.pooled_output(ids, token_type_ids=types).shape == (2, 32)
    with pytest.raises(ValueError, match="encoder-only"):
        model.generate(ids, 2)


def test_torch_compile_runs_a_proxy():
    model = build(scale("llama-2-7b", "tiny"), seed=0).eval()
    ids = torch.randint(0, model.spec.vocab_size, (1, 16))
    compiled = torch.compile(model, backend="aot_eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(ids), model(ids), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("key", ["llama-2-7b", "mixtral-8x7b", "llama-4-scout", "gopher-280b", "t5-11b"])
def test_training_step_is_one_graph_and_equals_eager(key):
    """torch.compile(fullgraph=True) takes the forward, loss and backward whole (the aot_eager backend traces
    what inductor would compile, without its code generation), and gives eager's loss and gradients."""
    import torch._dynamo

    torch._dynamo.reset()
    model = build(scale(key, "tiny"), seed=0).eval()  # no dropout: both runs see the same network
    inputs = inputs_for(model, length=16)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    results = []
    for runner in (model, compiled):
        model.zero_grad()
        loss = runner(**inputs, labels=inputs["input_ids"]).loss
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (eager_loss, eager_grads), (compiled_loss, compiled_grads) = results
    torch.testing.assert_close(compiled_loss, eager_loss)
    assert len(compiled_grads) == len(eager_grads)
    for got, want in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("key", ["gemma-2-27b", "mixtral-8x7b", "deepseek-v3"])  # ring-buffered local layers; MoE dispatch; MLA in latent space
def test_a_cached_decode_step_compiles_once(key):
    """Prefill is one graph and every decode step after it reuses one more: the preallocated cache keeps the
    step's shapes fixed, so a long generation never recompiles, nor does the next generation with a new cache
    (dynamo's graphs counted, eager backend)."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    model = build(scale(key, "tiny"), seed=0).eval()
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    prompt = inputs_for(model, batch=1, length=8)["input_ids"]
    for _ in range(2):
        cache = model.new_cache(40)
        with torch.no_grad():
            token = compiled(prompt, cache=cache)[:, -1:].argmax(-1)
            for _ in range(12):
                token = compiled(token, cache=cache)[:, -1:].argmax(-1)
    assert counters["stats"]["unique_graphs"] == 2
