"""`zoo import-hf`: a config.json becomes a draft spec that validates, with what a config cannot say marked."""

import json
import os
import subprocess
import sys

import pytest

from builder.hf import hf_config_from_spec
from builder.hf.tables import TYPES
from zoo.cli import main
from zoo.specfile import load_spec


def _config_dir(tmp_path, key):
    directory = tmp_path / key
    hf_config_from_spec(key).save_pretrained(directory)
    return directory


def test_draft_validates_and_holds_the_records_architecture(tmp_path, capsys):
    from zoo import Catalog

    config = _config_dir(tmp_path, "gemma-3-27b") / "config.json"
    assert main(["import-hf", str(config), "--key", "gemma-draft", "--specs", str(tmp_path)]) == 0
    draft = load_spec(tmp_path / "gemma-draft.toml")
    record = Catalog().get("gemma-3-27b")
    assert draft.architecture == record.architecture
    assert draft.params_reference == record.params_reference
    text = (tmp_path / "gemma-draft.toml").read_text()
    for placeholder in ("family", "organization", "release month", "params_published", "the config.json"):
        assert any("PLACEHOLDER" in line and placeholder in line for line in text.splitlines())
    assert "lines marked PLACEHOLDER" in capsys.readouterr().out


def test_values_the_config_lacks_are_marked_assumed(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "bloom", "n_layer": 2, "hidden_size": 64, "n_head": 4,
                                  "vocab_size": 100}))
    assert main(["import-hf", str(config), "--key", "tiny-bloom", "--specs", str(tmp_path)]) == 0
    draft = load_spec(tmp_path / "tiny-bloom.toml")
    assert draft.architecture.context_length == 2048
    assert draft.assumed["context_length"].startswith("PLACEHOLDER")


def test_existing_files_and_unknown_types_are_one_line_errors(tmp_path, capsys):
    config = _config_dir(tmp_path, "llama-2-7b")
    args = ["import-hf", str(config), "--key", "draft", "--specs", str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 2
    assert "exists (pass --force to overwrite)" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    (tmp_path / "mamba.json").write_text(json.dumps({"model_type": "mamba"}))
    assert main(["import-hf", str(tmp_path / "mamba.json"), "--specs", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "zoo: import-hf: mamba.json: mamba: not supported; supported: " + ", ".join(sorted(TYPES))]


def test_without_transformers_import_hf_names_the_extra_to_install(tmp_path):
    blocked = tmp_path / "blocked" / "transformers"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('transformers is blocked in this test')\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "blocked")}
    done = subprocess.run([sys.executable, "-m", "zoo", "import-hf", str(config), "--specs", str(tmp_path)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "zoo: transformers is not installed; Hugging Face interop needs the hf extra: pip install 'archzoo[hf]'"]
    assert list(tmp_path.glob("*.toml")) == []


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "a config.json is a JSON object, got list"),
    ("null", "a config.json is a JSON object, got NoneType"),
    ('"llama"', "a config.json is a JSON object, got str"),
    ("{{{", "not JSON"),
    ('{"model_type": ["llama"]}', "model_type ['llama'] is not a transformers model type"),
    ('{"model_type": "llama", "hidden_size": "4096"}', "transformers refuses this config"),
    ('{"model_type": "llama", "hidden_size": NaN}', "transformers refuses this config"),
    ('{"model_type": "llama", "num_hidden_layers": 100000000}', "n_layers: Input should be less than or equal to 1024"),
    ('{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "rope_theta": "big"}', "cannot be read"),
])
def test_malformed_configs_are_one_line_and_write_nothing(text, message, tmp_path, capsys):
    (tmp_path / "config.json").write_text(text)
    assert main(["import-hf", str(tmp_path / "config.json"), "--specs", str(tmp_path), "--key", "draft"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("zoo: import-hf:")
    assert list(tmp_path.glob("*.toml")) == [] and list(tmp_path.glob(".*partial")) == []


@pytest.mark.parametrize("key", ["../../escaped", "Upper", "a" * 65, "bad/key"])
def test_a_key_that_is_no_slug_is_refused_before_anything_is_written(key, tmp_path, capsys):
    config = _config_dir(tmp_path, "llama-2-7b")
    specs = tmp_path / "specs"
    specs.mkdir()
    assert main(["import-hf", str(config), "--key", key, "--specs", str(specs)]) == 2
    assert "is not a model key" in capsys.readouterr().err
    assert [p for p in tmp_path.rglob("*.toml")] == [] and not (tmp_path.parent / "escaped.toml").exists()


def test_export_hf_writes_a_config_that_reads_back_as_the_record(tmp_path, capsys):
    from builder.hf import spec_from_hf
    from zoo.variants import load_record

    assert main(["export-hf", "mistral-7b", "-o", str(tmp_path / "mistral")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert spec_from_hf(tmp_path / "mistral" / "config.json") == load_record("mistral-7b").architecture
    assert main(["export-hf", "gpt3-175b", "-o", str(tmp_path / "gpt3")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no transformers model type expresses this spec" in err[0]
    assert not (tmp_path / "gpt3").exists()


def test_hub_ids_are_read_from_the_local_cache_never_the_network(tmp_path, monkeypatch, capsys):
    """The standard cache layout: models--ORG--NAME/refs/main names the snapshot that holds config.json."""
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    repo = cache / "models--Qwen--Qwen2.5-7B"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    config = hf_config_from_spec("qwen2.5-7b").to_dict()
    del config["head_dim"]  # as Qwen publishes it
    (snapshot / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    from builder.hf import spec_from_hf
    from zoo.variants import load_record

    assert spec_from_hf("Qwen/Qwen2.5-7B") == load_record("qwen2.5-7b").architecture
    specs = tmp_path / "specs"
    specs.mkdir()
    assert main(["import-hf", "Qwen/Qwen2.5-7B", "--specs", str(specs)]) == 0
    draft = (specs / "qwen2.5-7b.toml").read_text()
    assert 'url = "https://huggingface.co/Qwen/Qwen2.5-7B"' in draft
    capsys.readouterr()
    assert main(["import-hf", "Qwen/Qwen3-0.6B", "--specs", str(specs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the local Hugging Face cache" in err[0] and str(cache) in err[0]
