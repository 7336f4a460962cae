import pytest
import torch

from builder import build, scale
from builder.construct import ModelTooLargeError, describe
from zoo.specfile import load_spec
from zoo.variants import UnknownSpecError


def test_full_size_meta_build_allocates_nothing_and_counts_exactly():
    model = build("llama-3.1-405b", device="meta")
    assert model.embed_tokens.weight.is_meta and model.num_params() == load_spec(
        model_path("llama-3.1-405b")).params_reference


def model_path(key):
    from zoo.specfile import specs_dir

    return specs_dir() / f"{key}.toml"


def test_models_that_do_not_fit_are_refused_before_allocating():
    with pytest.raises(ModelTooLargeError) as error:
        build("grok-1", device="cpu")
    message = str(error.value)
    assert "\n" not in message and "GiB" in message and "315,684,820,992" in message and "available on cpu" in message


def test_unknown_keys_name_close_and_accepted_keys():
    with pytest.raises(UnknownSpecError) as error:
        build("lama-2-7b", device="meta")
    message = str(error.value)
    assert "\n" not in message and "did you mean llama-2-7b" in message and "accepted:" in message


def test_dtype_and_records_and_architectures_are_accepted():
    record = load_spec(model_path("qwen3-8b"))
    proxy = scale(record, "tiny")
    model = build(proxy, dtype=torch.bfloat16, seed=0)
    assert model.embed_tokens.weight.dtype == torch.bfloat16
    assert next(iter(model.rotary.values())).inv_freq.dtype == torch.float32
    assert torch.isfinite(model(torch.randint(0, 100, (1, 8))).float()).all()
    assert build(proxy.architecture, device="meta").source is None


def test_describe_prints_counts_and_kv_cache():
    text = describe(build("mixtral-8x7b", device="meta"))
    assert "total 46,702,792,704" in text and "active 12,879,925,248" in text and "KV cache: 131,072 bytes" in text
    assert "32 x Block(sliding attention" in text or "32 x Block(global attention" in text


def test_zoo_build_command(capsys):
    from zoo.cli import main

    assert main(["build", "gemma-2-9b", "--scale", "tiny", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "gemma-2-9b@tiny" in out and "non-embedding" in out and "bytes per token" in out
    assert main(["build", "no-such-model"]) == 2
    assert "unknown model key" in capsys.readouterr().err


@pytest.mark.parametrize("device, message", [
    ("tpu", "unknown device 'tpu'"), ("cuda:abc", "unknown device 'cuda:abc'"), ("mps", "device 'mps' is not supported"),
    ("cuda", "CUDA is not available here"),
])
def test_bad_devices_are_one_line_for_build_and_bench(device, message, monkeypatch, capsys):
    from zoo.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for command in (["build", "gpt-1", "--device", device], ["bench", "gpt-1", "--scale", "tiny", "--device", device]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], command


def test_bad_dtypes_and_specs_are_one_line():
    from builder.devices import DeviceError
    from zoo.variants import VariantError

    with pytest.raises(DeviceError, match="built in fp32, bf16 or fp16.*not int8"):
        build("gpt-1", dtype="int8")
    with pytest.raises(VariantError, match="got dict"):
        build({"d_model": 64})
    assert build("gpt-1", device="meta", dtype="bf16").embed_tokens.weight.dtype == torch.bfloat16


def test_keys_are_slugs_and_files_elsewhere_are_read_only_as_paths(tmp_path, capsys):
    from zoo.cli import main

    for escape in ("../../x", "/etc/passwd", "specs/../llama-2-7b"):
        assert main(["build", escape]) == 2
        assert "is not a model key" in capsys.readouterr().err
    elsewhere = tmp_path / "gpt-1.toml"
    elsewhere.write_text((model_path("gpt-1")).read_text())
    assert main(["build", str(elsewhere)]) == 0
    assert capsys.readouterr().out.startswith("gpt-1: decoder")
