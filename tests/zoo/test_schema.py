"""Each validation rule rejects a bad spec with its own message; valid variants pass."""

import math
import json

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from tests.zoo.helpers import valid_document, with_architecture
from zoo.columns import accounting, flatten
from zoo.schema import ModelRecord
from zoo.specfile import SpecError, parse_record


def problems(document) -> str:
    with pytest.raises(SpecError) as caught:
        parse_record(document, "x.toml")
    assert all(line.startswith("x.toml: ") for line in caught.value.problems)
    return "\n".join(caught.value.problems)


def test_valid_document_passes():
    record = parse_record(valid_document())
    assert record.architecture.attention == "mha"
    assert record.architecture.gated_mlp


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_heads": 10, "n_kv_heads": 4}, "n_heads (10) must be divisible by n_kv_heads (4)"),
        ({"rotary_fraction": 1.5}, "rotary_fraction must be in (0, 1]"),
        ({"rotary_fraction": 0.0}, "rotary_fraction must be in (0, 1]"),
        ({"position": "alibi"}, "rope_theta applies only when position is 'rope'"),
        ({"rope_theta": None}, "rope_theta is required when position is 'rope'"),
        ({"sliding_window": 1024}, "sliding_window is set but layer_pattern ('G') has no local layers"),
        ({"layer_pattern": "LG", "local_attention": "sliding"}, "sliding_window is required"),
        ({"layer_pattern": "LG", "local_attention": "sliding", "sliding_window": 4096},
         "sliding_window (4096) must be smaller than context_length (4096)"),
        ({"layer_pattern": "LG", "sliding_window": 512}, "local_attention ('sliding' or 'chunked') is required"),
        ({"layer_pattern": "GXG"}, "layer_pattern is a string of 'G' (global) and 'L' (local) layers"),
        ({"d_model": 0}, "architecture.d_model: Input should be greater than 0"),
        ({"vocab_size": -5}, "architecture.vocab_size: Input should be greater than 0"),
        ({"n_layers": "thirty-two"}, "architecture.n_layers: Input should be a valid integer"),
        ({"norm": "batchnorm"}, "architecture.norm: Input should be 'layernorm' or 'rmsnorm'"),
        ({"norm_bias": True}, "norm_bias must be false for rmsnorm"),
        ({"parallel_block": True, "norm_position": "post"}, "parallel_block requires norm_position 'pre'"),
        ({"global_nope": True}, "global_nope needs both global and local layers"),
        ({"n_encoder_layers": 6}, "n_encoder_layers applies only to encoder-decoder models"),
        ({"arch": "encoder-decoder"}, "n_encoder_layers is required for an encoder-decoder model"),
        ({"dropout": 1.0}, "architecture.dropout: Input should be less than 1"),
        ({"attn_softcap": -1.0}, "architecture.attn_softcap: Input should be greater than 0"),
        ({"gelu_tanh": True}, "gelu_tanh applies only to activation 'gelu' or 'geglu'"),
        ({"relative_buckets": 32}, "relative_buckets and relative_max_distance apply only"),
        ({"position_offset": 2}, "position_offset applies only to learned positions"),
        ({"unknown_knob": 3}, "architecture.unknown_knob: unknown field (not part of the schema)"),
        ({"d_ff": None}, "architecture.d_ff: required field is missing"),
    ],
)
def test_architecture_rule_rejects(changes, message):
    assert message in problems(with_architecture(**changes))


MOE = {"n_experts": 8, "experts_per_token": 2, "expert_d_ff": 14336, "router": "topk-softmax"}


def test_moe_rules():
    assert parse_record(with_architecture(moe=MOE)).architecture.moe.n_experts == 8
    assert "experts_per_token (9) must be <= n_experts (8)" in problems(with_architecture(moe={**MOE, "experts_per_token": 9}))
    assert "moe_pattern is a string of 'M'" in problems(with_architecture(moe={**MOE, "moe_pattern": "DD"}))
    assert "router: Input should be" in problems(with_architecture(moe={**MOE, "router": "hash"}))


def test_rope_scaling_rules():
    llama3 = {"kind": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_context_length": 8192}
    assert parse_record(with_architecture(rope_scaling=llama3)).architecture.rope_scaling.factor == 8.0
    assert "llama3 rope scaling needs original_context_length" in problems(
        with_architecture(rope_scaling={k: v for k, v in llama3.items() if k != "original_context_length"}))
    step = {**llama3, "high_freq_factor": 1.0}
    assert parse_record(with_architecture(rope_scaling=step)).architecture.rope_scaling.high_freq_factor == 1.0
    assert "low_freq_factor must not exceed high_freq_factor" in problems(
        with_architecture(rope_scaling={**llama3, "low_freq_factor": 5.0}))
    assert "rope_scaling.low_freq_factor: low_freq_factor applies only to llama3 rope scaling" in problems(
        with_architecture(rope_scaling={**llama3, "kind": "linear"}))
    yarn = {"kind": "yarn", "factor": 40.0, "original_context_length": 4096, "mscale": 1.0, "mscale_all_dim": 1.0}
    assert parse_record(with_architecture(rope_scaling=yarn)).architecture.rope_scaling.yarn_attention_factor == 1.0
    assert "yarn rope scaling needs original_context_length" in problems(
        with_architecture(rope_scaling={"kind": "yarn", "factor": 4.0}))
    assert "beta_fast applies only to yarn rope scaling" in problems(
        with_architecture(rope_scaling={**llama3, "beta_fast": 32.0}))


def test_yarn_attention_factor_follows_the_paper_and_deepseeks_mscale_pair():
    from zoo.schema import RopeScaling

    def factor(**fields):
        return RopeScaling(kind="yarn", original_context_length=4096, **fields).yarn_attention_factor

    assert factor(factor=8.0) == pytest.approx(0.1 * math.log(8.0) + 1)
    assert factor(factor=8.0, mscale=0.707, mscale_all_dim=1.0) == pytest.approx(
        (0.1 * 0.707 * math.log(8.0) + 1) / (0.1 * math.log(8.0) + 1))
    assert factor(factor=8.0, attention_factor=1.2) == 1.2
    assert factor(factor=1.0) == 1.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("released", "2023-13", "released month must be 01-12"),
        ("released", "July 2023", "released must be 'YYYY-MM'"),
        ("released", "1999-01", "released must be between 2017-01 and this month"),
        ("key", "Llama 2", "key: String should match pattern"),
        ("sources", [], "sources: List should have at least 1 item"),
        ("citations", {"d_fff": "typo"}, "citations names unknown field 'd_fff'"),
        ("unpublished", {"d_ff": "not said"}, "unpublished field 'd_ff' must be left out (null)"),
        ("assumed", {"sliding_window": "band"}, "assumed field 'sliding_window' needs the assumed value"),
        ("assumed", {"optimizer": "guess"}, "assumed field 'optimizer' must be an architecture field"),
        ("colour", "blue", "colour: unknown field"),
    ],
)
def test_record_rule_rejects(field, value, message):
    document = valid_document()
    document[field] = value
    assert message in problems(document)


def test_null_training_fact_needs_a_reason():
    document = valid_document()
    del document["training"]["weight_decay"]
    assert "weight_decay is null: give its value or say why under [unpublished]" in problems(document)
    document["unpublished"] = {"weight_decay": "the paper does not say"}
    assert parse_record(document).training.weight_decay is None


def test_several_problems_are_all_reported():
    lines = problems(with_architecture(n_heads=10, n_kv_heads=4, norm="batchnorm", d_model=-1)).splitlines()
    assert len(lines) >= 2
    cross_field = problems(with_architecture(n_heads=10, n_kv_heads=4, sliding_window=128)).splitlines()
    assert cross_field == [
        "x.toml: architecture.n_heads: n_heads (10) must be divisible by n_kv_heads (4)",
        "x.toml: architecture.sliding_window: sliding_window is set but layer_pattern ('G') has no local layers",
    ]


# Fuzzing: mutate a valid document with wrong types, missing, extra and out-of-range values.
_values = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@st.composite
def mutated_documents(draw):
    document = valid_document()
    for _ in range(draw(st.integers(1, 4))):
        nested = [value for value in (document.get("architecture"), document.get("training")) if isinstance(value, dict)]
        section = draw(st.sampled_from([document, *nested]))
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "set" and section:
            section[draw(st.sampled_from(sorted(section)))] = draw(_values)
        elif action == "delete" and section:
            del section[draw(st.sampled_from(sorted(section)))]
        else:
            section[draw(st.text(min_size=1, max_size=10))] = draw(_values)
    return document


@settings(max_examples=300, deadline=None)
@given(mutated_documents())
def test_fuzzed_documents_give_a_valid_spec_or_a_spec_error(document):
    try:
        record = parse_record(document, "fuzz.toml")
    except SpecError as error:
        assert error.problems and all(line.startswith("fuzz.toml: ") and "\n" not in line for line in error.problems)
    else:
        assert isinstance(record, ModelRecord)
        assert ModelRecord.model_validate_json(record.model_dump_json()) == record


@settings(max_examples=100, deadline=None)
@given(st.one_of(_values, st.lists(_values, max_size=3)))
def test_non_table_documents_are_rejected(document):
    with pytest.raises(SpecError):
        parse_record(document, "fuzz.toml")


# Hostile values: what a hand-edited or generated spec may hold that must never reach the catalog.
_hostile = st.one_of(
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 2**63, 2**64 + 1, 10**30, -(2**70), 10**7, 10**9]),
    st.sampled_from(["4096", "off", "1e4", "", "\u0663\u0662"]),  # numbers and flags as text (Arabic-Indic digits)
    st.booleans(), st.floats(), st.integers(-(2**80), 2**80), st.just(11008.0),
    st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=2), max_leaves=4),
)
_SIZE_FIELDS = ("n_layers", "d_model", "n_heads", "n_kv_heads", "head_dim", "d_ff", "vocab_size", "context_length",
                "norm_eps", "dropout", "rope_theta", "rotary_fraction", "parallel_block", "linear_bias",
                "embedding_multiplier", "z_loss", "sliding_window", "token_types")


@st.composite
def hostile_documents(draw):
    document = valid_document()
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["architecture", "training", "record"]))
        if where == "architecture":
            document["architecture"][draw(st.sampled_from(_SIZE_FIELDS))] = draw(_hostile)
        elif where == "training":
            document["training"][draw(st.sampled_from(["training_tokens", "weight_decay"]))] = draw(_hostile)
        else:
            document[draw(st.sampled_from(["params_published", "params_reference", "released", "multilingual"]))] = \
                draw(_hostile)
    return document


@settings(max_examples=300, deadline=None)
@given(hostile_documents())
def test_hostile_values_give_a_bounded_valid_spec_or_one_line_per_problem(document):
    """Non-finite, huge, beyond-64-bit and wrong-typed values: a SpecError of one-line problems, or a spec that
    flattens, counts and exports as JSON (finite numbers only, every integer within 64 bits)."""
    try:
        record = parse_record(document, "fuzz.toml")
    except SpecError as error:
        assert error.problems and all(line.startswith("fuzz.toml: ") and "\n" not in line for line in error.problems)
        return
    row = flatten(record, accounting(record))
    json.dumps(row, allow_nan=False)
    assert all(abs(value) < 2**63 for value in row.values() if isinstance(value, int))


@pytest.mark.parametrize("field, value, message", [
    ("d_model", "4096", "valid integer"), ("d_ff", 11008.0, "valid integer"), ("n_layers", True, "valid integer"),
    ("linear_bias", "off", "valid boolean"), ("linear_bias", 0, "valid boolean"), ("rope_theta", "1e4", "valid number"),
    ("rope_theta", float("inf"), "finite number"), ("norm_eps", float("nan"), "finite number"),
    ("vocab_size", 2**64 + 1, "less than or equal to 4194304"), ("n_layers", 10**6, "less than or equal to 1024"),
    ("context_length", 2**30, "less than or equal to 16777216"),
])
def test_values_are_read_exactly_as_written_and_within_bounds(field, value, message):
    with pytest.raises(SpecError) as error:
        parse_record(with_architecture(**{field: value}), "x.toml")
    assert any(line.startswith(f"x.toml: architecture.{field}: ") and message in line for line in error.value.problems)


def test_release_months_are_ascii_digits():
    document = valid_document()
    document["released"] = "\u0662\u0660\u0662\u0663-07"
    with pytest.raises(SpecError, match="released must be 'YYYY-MM'"):
        parse_record(document, "x.toml")


def test_the_largest_spec_the_bounds_allow_flattens_at_once():
    document = with_architecture(n_layers=1024, d_model=131_072, n_heads=1024, n_kv_heads=1024, head_dim=128,
                                 d_ff=1_048_576, vocab_size=4_194_304, context_length=16_777_216)
    record = parse_record(document, "x.toml")
    row = flatten(record, accounting(record))
    assert row["params_total"] > 10**14 and json.dumps(row, allow_nan=False)
