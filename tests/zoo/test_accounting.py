import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from builder import build
from tests.builder.helpers import TINY_DECODER, inputs_for, module_counts
from zoo.accounting import kv_cache_bytes_per_token, param_counts
from zoo.schema import Architecture
from zoo.specfile import load_spec, spec_paths

RECORDS = spec_paths()


@pytest.mark.parametrize("path", RECORDS, ids=[path.stem for path in RECORDS])
def test_full_size_meta_build_matches_the_record_and_the_analytic_count(path):
    record = load_spec(path)
    model = build(record.key, device="meta")
    total, active, embedding = module_counts(model)
    counts = param_counts(record.architecture)
    assert (counts.total, counts.active, counts.embedding) == (total, active, embedding)
    assert model.num_params() == total
    if record.params_reference is not None:
        assert total == record.params_reference
    else:
        gap = abs(total - record.params_published) / record.params_published
        assert gap <= 0.02 or "param" in record.notes.lower(), f"{total:,} vs published {record.params_published:,}"


def test_the_catalog_layer_and_the_command_line_parser_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, zoo, zoo.accounting, zoo.scaling, zoo.flops, zoo.plan, zoo.variants, zoo.cli; "
            "zoo.cli.make_parser(); print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_known_counts_and_kv_cache_bytes():
    llama = load_spec(next(p for p in RECORDS if p.stem == "llama-2-7b")).architecture
    assert param_counts(llama).total == 6_738_415_616
    assert param_counts(llama).embedding == 2 * 32000 * 4096
    assert kv_cache_bytes_per_token(llama) == 32 * 2 * 32 * 128 * 2
    assert kv_cache_bytes_per_token(llama, bytes_per_element=4) == 2 * kv_cache_bytes_per_token(llama)


NO_ROPE = dict(rope_theta=None, rotary_fraction=None, rope_layout=None)


@st.composite
def architectures(draw):
    """Random valid combinations of the spec's choices at tiny size."""
    doc = dict(TINY_DECODER)
    kind = draw(st.sampled_from(["decoder", "decoder", "encoder", "encoder-decoder"]))
    doc["arch"] = kind
    doc["n_layers"] = draw(st.integers(1, 4))
    if kind == "encoder-decoder":
        doc["n_encoder_layers"] = draw(st.integers(1, 2))
    n_heads = draw(st.sampled_from([2, 4]))
    doc.update(n_heads=n_heads, n_kv_heads=draw(st.sampled_from([1, n_heads // 2, n_heads])),
               head_dim=draw(st.sampled_from([8, 16])), d_model=draw(st.sampled_from([16, 32])))
    doc["norm"] = draw(st.sampled_from(["layernorm", "rmsnorm"]))
    doc["norm_bias"] = doc["norm"] == "layernorm" and draw(st.booleans())
    doc["norm_unit_offset"] = draw(st.booleans())
    doc["parallel_block"] = draw(st.booleans())
    if doc["parallel_block"]:
        doc["norm_position"], doc["parallel_shared_norm"] = "pre", draw(st.booleans())
    else:
        doc["norm_position"] = draw(st.sampled_from(["pre", "post", "double", "reordered"]))
    doc["final_norm"] = draw(st.booleans())
    doc["activation"] = draw(st.sampled_from(["relu", "gelu", "silu", "swiglu", "geglu", "reglu"]))
    doc["gelu_tanh"] = doc["activation"] in ("gelu", "geglu") and draw(st.booleans())
    doc["linear_bias"] = draw(st.booleans())
    doc["qkv_bias"] = doc["linear_bias"] or draw(st.booleans())
    if draw(st.booleans()):
        doc["mlp_bias"] = not doc["linear_bias"]
    doc["tied_embeddings"] = draw(st.booleans())
    doc["output_bias"] = draw(st.booleans())
    if kind != "encoder-decoder" and draw(st.booleans()):
        doc["output_head"] = "transform"
    doc["embedding_norm"] = draw(st.booleans())
    doc["embedding_multiplier"] = draw(st.sampled_from([1.0, "sqrt_d_model", 0.5]))
    doc["output_multiplier"] = draw(st.sampled_from([1.0, "inv_sqrt_d_model"]))
    if draw(st.booleans()):
        doc["embedding_dim"] = 8
    if kind == "encoder":
        doc["token_types"] = draw(st.sampled_from([0, 2]))
        doc["pooler"] = draw(st.booleans())
    position = draw(st.sampled_from(["sinusoidal", "learned", "relative-bias", "xl-relative", "alibi", "rope", "none"]))
    doc["position"] = position
    if position != "rope":
        doc.update(NO_ROPE)
    else:
        doc["rotary_fraction"] = draw(st.sampled_from([0.25, 0.5, 1.0]))
        doc["rope_layout"] = draw(st.sampled_from(["half", "interleaved"]))
        doc["rope_scaling"] = draw(st.sampled_from([None, {"kind": "linear", "factor": 2.0}, {
            "kind": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_context_length": 32}]))
    if position == "learned":
        doc["position_offset"] = draw(st.sampled_from([0, 2]))
    if position == "relative-bias":
        doc.update(relative_buckets=8, relative_max_distance=16)
    doc["query_scale"] = draw(st.sampled_from(["head_dim", "d_model_over_heads", "none"]))
    if kind == "decoder":
        doc["layer_pattern"] = draw(st.sampled_from(["G", "L", "LG", "GL", "LLG"]))
        if "L" in doc["layer_pattern"]:
            doc["local_attention"] = draw(st.sampled_from(["sliding", "chunked"]))
            doc["sliding_window"] = draw(st.integers(2, 6))
            if position == "rope" and "G" in doc["layer_pattern"]:
                doc["global_nope"] = draw(st.booleans())
                if doc["global_nope"] and draw(st.booleans()):
                    doc["nope_query_temperature"] = {"floor_scale": 4, "scale": 0.1}
                if draw(st.booleans()):
                    doc["rope_local_theta"] = 100.0
    qk_norms = ["none", "head", "head_unshared", "projection"] + (["l2"] if position == "rope" else [])
    doc["qk_norm"] = draw(st.sampled_from(qk_norms))
    doc["attn_softcap"] = draw(st.sampled_from([None, 30.0]))
    doc["final_softcap"] = draw(st.sampled_from([None, 10.0]))
    doc["z_loss"] = draw(st.sampled_from([None, 1e-4]))
    if draw(st.booleans()):
        doc["moe"] = {
            "n_experts": draw(st.integers(2, 4)), "experts_per_token": 1 + draw(st.integers(0, 1)),
            "n_shared_experts": draw(st.integers(0, 1)), "expert_d_ff": 16,
            "router": draw(st.sampled_from(["topk-softmax", "softmax-topk", "topk-sigmoid"])),
            "gate_input": draw(st.sampled_from(["output", "input"])),
            "moe_pattern": draw(st.sampled_from(["M", "DM", "MD"])),
        }
    try:
        return Architecture.model_validate({k: v for k, v in doc.items() if v is not None})
    except ValidationError:
        assume(False)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(arch=architectures(), seed=st.integers(0, 2**16))
def test_random_valid_combinations_build_run_and_count_exactly(arch, seed):
    model = build(arch, seed=seed)
    total, active, embedding = module_counts(model)
    assert tuple(param_counts(arch))[:3] == (total, active, embedding)
    inputs = inputs_for(model, length=9, seed=seed)
    logits, loss = model(**inputs, labels=inputs["input_ids"])
    loss.backward()
    assert torch.isfinite(logits).all() and torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_explain_gap_names_the_terms_the_gap_matches():
    from zoo.accounting import explain_gap

    gemma = load_spec(next(p for p in spec_paths() if p.stem == "gemma-7b"))
    reasons = explain_gap(gemma)
    assert f"equals the official config's count in its reference code ({gemma.params_reference:,})" in reasons
    rows = (gemma.params_published - gemma.params_reference) // gemma.architecture.d_model
    assert f"the gap is exactly {rows:,} vocabulary rows of width {gemma.architecture.d_model} (vocabulary padding)" in reasons

    mixtral = load_spec(next(p for p in spec_paths() if p.stem == "mixtral-8x7b"))
    active = param_counts(mixtral.architecture).active
    assert f"all 8 experts are counted; {active:,} parameters are active per token" in explain_gap(mixtral)

    untied = mixtral.model_copy(update={"params_published": param_counts(mixtral.architecture).embedding
                                        + param_counts(mixtral.architecture).total})
    assert any("matches the embedding parameters" in reason for reason in explain_gap(untied))
