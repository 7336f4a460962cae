"""The Benchmarks page's rows: throughput spread from the stored step times, run names, no 'None' cells."""

import statistics

import pandas as pd
import pytest

from dashboard.benchmark_rows import run_names, stored_runs_table, with_spread


def _runs() -> pd.DataFrame:
    times = [0.10, 0.11, 0.12, 0.13, 0.20]
    median = statistics.median(times)
    return pd.DataFrame({
        "key": ["a", "b"], "model": ["Model A", "Model B"], "variant": ["scale=tiny", ""],
        "mode": ["train", "forward"], "batch": [4, 1], "seq": [128, 64], "compiled": [False, True],
        "world_size": [2, 1], "sharding": ["fsdp", "none"], "where": ["cpu", "cpu"], "dtype": ["fp32", "fp32"],
        "tokens_per_s": [512 / median, None], "step_time_median_s": [median, None],
        "details": [{"step_times_s": times}, {}], "mfu": [None, None], "peak_memory_bytes": [3 * 2**20, None],
        "kv_cache_bytes_per_token": [1024, None], "torch_version": ["t", "t"], "created_at": ["now", "now"],
    })


def test_throughput_spread_is_the_step_times_interquartile_range():
    runs = with_spread(_runs())
    q1, _, q3 = statistics.quantiles([0.10, 0.11, 0.12, 0.13, 0.20], n=4, method="inclusive")
    assert runs["tokens_per_s_q1"][0] == pytest.approx(512 / q3)
    assert runs["tokens_per_s_q3"][0] == pytest.approx(512 / q1)
    assert pd.isna(runs["tokens_per_s_q1"][1])


def test_run_names_say_what_differs_and_the_table_has_no_none():
    runs = with_spread(_runs())
    runs["run"] = run_names(runs)
    assert list(runs["run"]) == ["Model A · scale=tiny · train b4×128 · 2 ranks fsdp", "Model B · forward b1×64 compiled"]
    table = stored_runs_table(runs)
    assert "None" not in table.to_string() and "nan" not in table.to_string()
    assert table.loc[1, "MFU"] == "—" and table.loc[0, "Peak memory"] == "3.0 MiB"
