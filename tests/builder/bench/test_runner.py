"""zoo bench: devices and MFU, counterfactual variants, interleaved timing, stored rows and bad input."""

from __future__ import annotations

import json

import pytest
import torch

import builder.bench.runner as bench
from builder.bench.hardware import mfu, peak_flops
from builder.bench.runner import BenchConfig, Workload, measure
from builder.devices import DeviceError, resolve_device
from zoo.catalog import BenchmarkRow, Catalog
from zoo.cli import main
from zoo.schema import NormPosition
from zoo.variants import VariantError, parse_variant, resolve_variant

FAST = ["--scale", "tiny", "--batch", "2", "--seq", "32", "--prompt", "16", "--new", "4", "--warmup", "1", "--iters", "2",
        "--spread", "0"]


# ----- devices and MFU


@pytest.mark.parametrize("name, dtype, peak", [
    ("NVIDIA H100 80GB HBM3", "bf16", 989e12),  # how an H100 SXM names itself
    ("NVIDIA H100 SXM5 80GB", "bf16", 989e12),
    ("NVIDIA H200", "bf16", 989e12),
    ("NVIDIA H100 PCIe", "fp16", 756e12),
    ("NVIDIA A100-SXM4-80GB", "bf16", 312e12),
    ("NVIDIA A100 80GB PCIe", "bf16", 312e12),
    ("NVIDIA GH200 480GB", "bf16", None),  # not in the table: no MFU rather than a guess
    ("NVIDIA H100 NVL", "bf16", None),
    ("NVIDIA GeForce RTX 4090", "bf16", None),
    ("NVIDIA H200", "fp32", None),  # no dense fp32 tensor-core figure in the table
])
def test_peak_table(name, dtype, peak):
    assert peak_flops(name, dtype) == peak


def test_mfu_is_achieved_over_peak_and_null_on_cpu_and_unknown_devices():
    assert mfu(494.5e12, "NVIDIA H200", "bf16", "cuda") == pytest.approx(0.5)
    assert mfu(1e12, "NVIDIA H200", "bf16", "cpu") is None
    assert mfu(1e12, "Some Future GPU", "bf16", "cuda") is None


def test_devices_are_checked(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match="unknown device 'tpu0'"):
        resolve_device("tpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="CUDA is not available"):
        resolve_device("cuda")


# ----- counterfactual variants


def test_overrides_are_parsed_as_json_values_or_enum_strings():
    assert parse_variant("llama-2-7b") == ("llama-2-7b", {})
    assert parse_variant("llama-2-7b:norm_position=post") == ("llama-2-7b", {"norm_position": "post"})
    assert parse_variant("mixtral-8x7b:moe.experts_per_token=1,dropout=0.1,attn_softcap=null") == (
        "mixtral-8x7b", {"moe.experts_per_token": 1, "dropout": 0.1, "attn_softcap": None})


@pytest.mark.parametrize("text, message", [
    ("llama-2-7b:norm_postion=post", "unknown architecture field 'norm_postion'; did you mean norm_position"),
    ("llama-2-7b:norm_position", "is not FIELD=VALUE"),
    ("llama-2-7b:norm_position=sideways", "norm_position: Input should be 'post', 'pre', 'double' or 'reordered'"),
    ("llama-2-7b:n_kv_heads=7", "n_heads (32) must be divisible by n_kv_heads (7)"),
    ("llama-2-7b:moe.n_experts=4", "the architecture has no moe"),
    ("llama-2-7", "unknown model key 'llama-2-7'"),
])
def test_invalid_variants_are_one_clear_line(text, message):
    with pytest.raises(VariantError) as error:
        resolve_variant(text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_scaled_counterfactual_keeps_its_change():
    variant = resolve_variant("llama-2-7b:norm_position=post", "tiny")
    original = resolve_variant("llama-2-7b", "tiny").architecture
    assert variant.architecture.norm_position is NormPosition.post
    assert variant.architecture.model_copy(update={"norm_position": NormPosition.pre}) == original
    assert variant.label == "scale=tiny, norm_position=post"
    assert variant.name == "llama-2-7b:norm_position=post@tiny"


# ----- timing


class FakeClock:
    """perf_counter that only moves when a workload says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_measure_interleaves_rounds_and_times_only_the_run(monkeypatch):
    clock, calls = FakeClock(), []
    monkeypatch.setattr(bench.time, "perf_counter", clock)

    def workload(name, seconds):
        def prepare():
            calls.append(f"prepare {name}")
            clock.advance(100.0)  # setup (a decode prefill) must not count

        def run():
            calls.append(name)
            clock.advance(seconds)

        return Workload(run, prepare)

    timings = measure({"a": workload("a", 1.0), "b": workload("b", 3.0)}, torch.device("cpu"), warmup=1, iters=3)
    assert [c for c in calls if not c.startswith("prepare")] == ["a", "b"] * 4
    assert timings["a"].times == [1.0] * 3 and timings["b"].times == [3.0] * 3


# ----- the command, storing rows


def _stored(key=None):
    frame = Catalog().benchmarks(key=key)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


EVERY_FIELD = set(BenchmarkRow.model_fields) - {"mfu"}


@pytest.mark.parametrize("key, mode", [
    ("llama-2-7b", "forward"),
    ("mixtral-8x7b", "train"),
    ("t5-11b", "decode"),
    ("bert-large", "train"),
    ("gemma-2-9b", "decode"),
])
def test_bench_stores_one_complete_row_that_reads_back(key, mode, capsys):
    assert main(["bench", key, "--mode", mode, "--json", *FAST]) == 0
    printed = json.loads(capsys.readouterr().out)
    rows = _stored(key)
    assert len(rows) == 1 and len(printed) == 1
    row = rows[0]
    assert row["id"] == printed[0]["id"]
    encoder = key == "bert-large"
    expected_null = {"mfu"} | ({"kv_cache_bytes_per_token", "kv_cache_bytes_per_token_measured"} if encoder else set())
    assert {name for name, value in row.items() if value is None} == expected_null
    assert (row["key"], row["mode"], row["batch"], row["dtype"], row["device"]) == (key, mode, 2, "fp32", "cpu")
    assert row["seq"] == (16 if mode == "decode" else 32)
    assert row["variant"] == "scale=tiny"
    assert json.loads(row["spec_json"]) == json.loads(resolve_variant(key, "tiny").architecture.model_dump_json())
    assert row["tokens_per_s"] == pytest.approx(row["details"]["tokens_per_step"] / row["step_time_median_s"])
    assert row["achieved_flops_per_s"] == pytest.approx(row["flops_per_token"] * row["tokens_per_s"])
    assert row["torch_version"] == torch.__version__ and row["created_at"]
    assert len(row["details"]["step_times_s"]) == 2
    assert row["details"]["attention_backends"]
    if not encoder:
        assert row["kv_cache_bytes_per_token_measured"] == row["kv_cache_bytes_per_token"]
    if mode == "forward":
        assert row["details"]["flops_per_token_counted_forward"] == pytest.approx(row["flops_per_token"])
    if mode == "train":
        assert row["details"]["optimizer"].startswith("AdamW")


def test_compare_times_a_counterfactual_beside_the_original(capsys):
    assert main(["bench", "--compare", "llama-2-7b:norm_position=post", "llama-2-7b", *FAST]) == 0
    out = capsys.readouterr().out
    assert "llama-2-7b:norm_position=post" in out
    assert "x the tokens/s of llama-2-7b@tiny" in out or "vs llama-2-7b@tiny: within noise" in out
    rows = {row["variant"]: row for row in _stored("llama-2-7b")}
    assert set(rows) == {"scale=tiny, norm_position=post", "scale=tiny"}
    assert json.loads(rows["scale=tiny, norm_position=post"]["spec_json"])["norm_position"] == "post"
    assert json.loads(rows["scale=tiny"]["spec_json"])["norm_position"] == "pre"


def test_all_reports_progress_and_failures_and_stores_the_rest(monkeypatch, capsys):
    monkeypatch.setattr(Catalog, "keys", lambda self: ["gpt-1", "bert-large"])
    assert main(["bench", "--all", "--mode", "decode", *FAST]) == 1
    captured = capsys.readouterr()
    assert "1/2 bert-large" in captured.err and "2/2 done" in captured.err
    assert "bert-large: decode needs a decoder" in captured.err
    assert [row["key"] for row in _stored()] == ["gpt-1"]
    assert main(["bench", "--stored", "gpt-1"]) == 0
    assert "gpt-1@tiny" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["llama-2-7b", "--device", "tpu0"], "zoo: unknown device 'tpu0'"),
    (["llama-2-7b", "--device", "cuda"], "CUDA is not available"),
    (["llama-2-7b:parallel_block=true,norm_position=post"], "parallel_block requires norm_position 'pre'"),
    (["bert-large", "--mode", "decode"], "decode needs a decoder"),
    (["llama-2-7b", "--seq", "4096"], "seq (4096) exceeds the context length 128"),
    (["llama-2-7b", "--compare", "gpt-1", "gpt-1"], "exactly one of KEY, --all or --compare"),
])
def test_bad_input_is_one_line_a_nonzero_exit_and_no_row(args, message, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["bench", *FAST, *args]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert _stored() == []


def test_out_of_memory_is_reported_with_the_batches_tried_and_no_row(monkeypatch, capsys):
    real = bench.forward_workload

    def needs_small_batches(model, runner, config, device):
        workload = real(model, runner, config, device)
        if config.batch > 2:
            def run():
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return Workload(run, tokens_per_step=workload.tokens_per_step)
        return workload

    monkeypatch.setattr(bench, "forward_workload", needs_small_batches)
    assert main(["bench", "llama-2-7b", *FAST, "--batch", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "out of memory" in err and "(batches tried: 8, 4, 2): batch 2 fits; rerun with --batch 2" in err
    assert len(err.splitlines()) == 1
    assert _stored() == []


def test_compile_flag_compiles_the_model_and_is_stored(monkeypatch):
    compiled = []

    def fake_compile(model, **kwargs):
        compiled.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    result = bench.run_benchmark(BenchConfig("gpt-1", scale="tiny", batch=1, seq=16, warmup=0, iters=1, compile=True))
    assert len(compiled) == 1 and result.row().compiled is True


def _timed_row(name: str, times: list[float]) -> dict:
    median = sorted(times)[len(times) // 2]
    return {"key": name, "step_time_median_s": median, "tokens_per_s": 100 / median,
            "details": {"variant": name, "step_times_s": times}}


def test_compare_says_within_noise_when_the_interquartile_ranges_overlap():
    from builder.bench.cli import compare_line

    base = _timed_row("b", [1.0, 1.1, 1.2, 1.3, 1.4])
    assert "within noise" in compare_line(_timed_row("a", [1.2, 1.3, 1.4, 1.5, 1.6]), base)
    line = compare_line(_timed_row("a", [0.5, 0.52, 0.54, 0.56, 0.58]), base)
    assert line.startswith("a: 2.222x the tokens/s of b") and "IQR 0.52-0.56" not in line  # ms: 520.00-560.00
    assert "IQR 520.00-560.00" in line


def test_measure_adds_rounds_until_the_spread_is_small_or_the_budget_is_spent(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench.time, "perf_counter", clock)
    noisy = iter([1.0, 3.0] * 50)

    def run():
        clock.advance(next(noisy))

    timings = measure({"a": Workload(run)}, torch.device("cpu"), warmup=0, iters=4, spread=0.05, budget_s=1000)
    assert len(timings["a"].times) == 40  # never settles: stops at 10 x iters
    steady = measure({"a": Workload(lambda: clock.advance(1.0))}, torch.device("cpu"), warmup=0, iters=4, spread=0.05)
    assert len(steady["a"].times) == 4
    noisy = iter([1.0, 3.0] * 50)
    capped = measure({"a": Workload(run)}, torch.device("cpu"), warmup=0, iters=4, spread=0.05, budget_s=20)
    assert len(capped["a"].times) == 10  # 10 steps of 2 s on average: the budget is spent


def test_cpu_peak_memory_counts_tensors_not_the_process():
    from builder.bench.hardware import peak_tensor_bytes

    held = torch.zeros(1000)  # 4,000 bytes

    def step():
        a = torch.ones(2000)  # 8,000 bytes
        b = a * 2  # 8,000 more while a lives
        del a
        c = b + 1  # a freed: 16,000 again
        return c.sum()  # and 4 for the sum while b and c live

    assert peak_tensor_bytes(step, [held]) == 4000 + 16004
