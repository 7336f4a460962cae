"""Config interop: every catalogued record with a transformers type survives spec -> config -> spec, and
transformers' own model at that config (built on meta) has the record's reference parameter count."""

import json

import pytest
import transformers

from builder.hf import NotExpressible, hf_config_from_spec, hf_model, hf_model_type, read_hf_config, spec_from_hf
from builder.hf.tables import TYPE_ORDER, TYPES
from zoo.accounting import param_counts
from zoo.specfile import load_specs, spec_paths

RECORDS = {record.key: record for record in load_specs(spec_paths())}
# A record's params_reference citation says which code counted it; those counted by transformers must map.
WITH_TRANSFORMERS = sorted(k for k, r in RECORDS.items() if r.citations.get("params_reference", "").startswith("transformers"))
WITHOUT_TRANSFORMERS = sorted(set(RECORDS) - set(WITH_TRANSFORMERS))

# transformers 5 always ties T5's lm_head to the shared embedding (T5Config forces tie_word_embeddings=True and
# keeps the old flag only as scale_decoder_outputs; huggingface/transformers#48154), so the untied T5 v1.1
# loses its separate vocab x d_model output matrix there. params_reference is the untied model's count.
TRANSFORMERS_TIES_ANYWAY = {"t5-v1_1-xxl"}


def _meta_count(config) -> int:
    return sum(p.numel() for p in hf_model(config, device="meta").parameters())


def test_every_type_is_in_the_match_order_and_its_table_covers_the_schema():
    from builder.hf.config import _codecs

    assert sorted(TYPE_ORDER) == sorted(TYPES)
    for hf_type in TYPES.values():
        _codecs(hf_type)  # raises on a field mapped twice or a required field left out
        assert hasattr(transformers, hf_type.model_class), hf_type.model_class


@pytest.mark.parametrize("key", WITH_TRANSFORMERS)
def test_round_trip_and_full_size_parameter_count(key):
    record = RECORDS[key]
    config = hf_config_from_spec(record)
    assert spec_from_hf(config) == record.architecture
    assert spec_from_hf(json.loads(config.to_json_string())) == record.architecture  # as a config.json would hold it
    count = _meta_count(config)
    ours = param_counts(record.architecture).total
    if key in TRANSFORMERS_TIES_ANYWAY:
        tied_away = record.architecture.vocab_size * record.architecture.d_model
        assert count == record.params_reference - tied_away
        assert ours == record.params_reference
    else:
        assert count == record.params_reference == ours


@pytest.mark.parametrize("key", WITHOUT_TRANSFORMERS)
def test_records_without_a_transformers_implementation_say_why_no_type_fits(key):
    with pytest.raises(NotExpressible, match="no transformers model type expresses this spec"):
        hf_model_type(RECORDS[key])


def test_types_are_chosen_by_what_they_express():
    assert hf_model_type("llama-2-7b") == "llama"
    assert hf_model_type("mistral-7b") == "mistral"  # sliding window: llama cannot say it
    assert hf_model_type("qwen2.5-7b") == "qwen2"  # q/k/v biased, output projection not
    assert hf_model_type("opt-350m") == "opt"


def test_a_named_type_that_cannot_express_the_spec_names_the_fields():
    with pytest.raises(NotExpressible, match=r"llama cannot express .*layer_pattern='L'.*sliding_window=4096"):
        hf_config_from_spec(RECORDS["mistral-7b"], model_type="llama")


def test_reads_a_config_json_file_and_its_directory(tmp_path):
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=160, num_hidden_layers=3, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=100, max_position_embeddings=256,
                                      rope_theta=500000.0)
    config.save_pretrained(tmp_path)
    from_file, from_dir = spec_from_hf(tmp_path / "config.json"), spec_from_hf(tmp_path)
    assert from_file == from_dir == spec_from_hf(config)
    assert (from_file.d_model, from_file.n_kv_heads, from_file.head_dim, from_file.rope_theta) == (64, 2, 16, 500000.0)
    assert from_file.activation.value == "swiglu" and from_file.norm.value == "rmsnorm"


def test_an_official_style_opt_350m_config_reads_as_the_post_norm_record():
    official = {"model_type": "opt", "hidden_size": 1024, "num_hidden_layers": 24, "ffn_dim": 4096,
                "num_attention_heads": 16, "max_position_embeddings": 2048, "do_layer_norm_before": False,
                "word_embed_proj_dim": 512, "vocab_size": 50272, "dropout": 0.1, "activation_function": "relu"}
    assert spec_from_hf(official) == RECORDS["opt-350m"].architecture


def test_multimodal_wrappers_read_their_language_model():
    wrapper = transformers.Gemma3Config(text_config=hf_config_from_spec("gemma-3-27b").to_dict())
    assert spec_from_hf(wrapper) == RECORDS["gemma-3-27b"].architecture


def test_remote_code_configs_read_as_the_type_whose_class_they_name():
    remote = {**hf_config_from_spec("deepseek-v3").to_dict(), "model_type": "kimi_k2",
              "architectures": ["DeepseekV3ForCausalLM"], "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config"}}
    assert read_hf_config(remote)[:2] == ("deepseek_v3", RECORDS["deepseek-v3"].architecture)
    with pytest.raises(NotExpressible, match="^model_type 'kimi_k2' is not a transformers model type: the config is "
                                             r"remote code \(KimiLinearForCausalLM\) with no built-in class"):
        spec_from_hf({**remote, "architectures": ["KimiLinearForCausalLM"]})
    with pytest.raises(NotExpressible, match="^model_type 'kimi_k2' is not a transformers model type$"):
        spec_from_hf({name: value for name, value in remote.items() if name != "auto_map"})


def test_falcons_pre_transformers_configs_say_which_config_imports():
    legacy = {"model_type": "RefinedWeb", "architectures": ["RWForCausalLM"], "n_head": 128, "n_head_kv": 8,
              "auto_map": {"AutoConfig": "configuration_RW.RWConfig"}}
    with pytest.raises(NotExpressible, match="'RefinedWeb' is not a transformers model type: it is Falcon's "
                                             r"remote-code config .* \(model_type 'falcon'\) imports$"):
        spec_from_hf(legacy)


def test_placeholders_are_reported_for_values_a_config_does_not_hold():
    model_type, spec, notes = read_hf_config({"model_type": "bloom", "n_layer": 2, "hidden_size": 64, "n_head": 4,
                                              "vocab_size": 100})
    assert model_type == "bloom" and spec.context_length == 2048
    assert set(notes) == {"context_length"}


def test_values_outside_the_schema_are_refused_with_the_config_key():
    with pytest.raises(NotExpressible, match="llama: rope_type 'dynamic' "):
        spec_from_hf(transformers.LlamaConfig(rope_scaling={"rope_type": "dynamic", "factor": 4.0}))
    with pytest.raises(NotExpressible, match="mamba: not supported; supported: "):
        spec_from_hf({"model_type": "mamba"})
    with pytest.raises(NotExpressible, match="mamba2: not supported; supported: "):
        spec_from_hf({"model_type": "mamba2"})


def test_gptj_configs_as_published_read_the_base_its_code_hardwires():
    """GPT-J configs carry no RoPE base (its model code computes 10000 ** (-2i / rotary_dim)); a spec with
    another base cannot be written as gptj."""
    from zoo.variants import load_record

    published = {"activation_function": "gelu_new", "architectures": ["GPTJForCausalLM"], "model_type": "gptj",
                 "n_embd": 4096, "n_head": 16, "n_inner": None, "n_layer": 28, "n_positions": 2048, "rotary": True,
                 "rotary_dim": 64, "layer_norm_epsilon": 1e-05, "tie_word_embeddings": False, "vocab_size": 50400,
                 "attn_pdrop": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0}
    spec = spec_from_hf(published)
    assert (spec.rope_theta, spec.rotary_fraction, spec.rope_layout.value) == (10000.0, 0.25, "interleaved")
    other_base = load_record("gpt-j-6b").architecture.model_copy(update={"rope_theta": 500000.0})
    with pytest.raises(NotExpressible, match="gptj cannot express rope_theta=500000.0"):
        hf_config_from_spec(other_base, "gptj")


@pytest.mark.parametrize("key, absent", [("qwen2.5-7b", "missing"), ("olmo-2-7b", "missing"),
                                         ("command-r-plus", "missing"), ("mixtral-8x7b", "null")])
def test_configs_without_head_dim_read_it_as_the_model_code_derives_it(key, absent):
    """Published Qwen 2.5, OLMo 2, Cohere and Mixtral configs omit head_dim (Mixtral's holds null)."""
    from zoo.variants import load_record

    record = load_record(key)
    config = hf_config_from_spec(record).to_dict()
    assert config["head_dim"] == record.architecture.d_model // record.architecture.n_heads
    if absent == "missing":
        del config["head_dim"]
    else:
        config["head_dim"] = None
    assert spec_from_hf(config) == record.architecture
