"""Stored benchmark rows as the Benchmarks page shows them: readable run names, spread, and a table of text."""

from __future__ import annotations

import statistics

import pandas as pd

from zoo.display import format_number


def with_spread(runs: pd.DataFrame) -> pd.DataFrame:
    """Adds tokens/s at the step times' first and third quartiles (`tokens_per_s_q1`, `tokens_per_s_q3`):
    the interquartile range of the throughput (a slower step, a lower rate: q1 of tokens/s is q3 of time)."""
    low, high = [], []
    for row in runs.itertuples():
        times = (row.details or {}).get("step_times_s") or []
        if len(times) < 2 or pd.isna(row.tokens_per_s):
            low.append(None)
            high.append(None)
            continue
        q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
        tokens_per_step = row.tokens_per_s * row.step_time_median_s
        low.append(tokens_per_step / q3)
        high.append(tokens_per_step / q1)
    return runs.assign(tokens_per_s_q1=pd.Series(low, index=runs.index, dtype=float),
                       tokens_per_s_q3=pd.Series(high, index=runs.index, dtype=float))


def run_names(runs: pd.DataFrame) -> pd.Series:
    """'Model · scale=tiny · train b4×128 · 2 ranks fsdp', distinct for runs of one model at other settings."""
    def name(row) -> str:
        parts = [row["model"]] + ([row["variant"]] if row["variant"] else [])
        parts.append(f"{row['mode']} b{row['batch']}×{row['seq']}" + (" compiled" if row["compiled"] else ""))
        if row.get("world_size", 1) and row.get("world_size", 1) > 1:
            parts.append(f"{row['world_size']} ranks {row['sharding']}")
        return " · ".join(parts)

    return runs.apply(name, axis=1)


def _text(value, spell) -> str:
    return "—" if value is None or pd.isna(value) else spell(value)


def stored_runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run, every figure as text ('—' where a run has none, never 'None')."""
    def gib(value) -> str:
        return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.1f} MiB"

    return pd.DataFrame({
        "Run": runs["run"],
        "Device": runs["where"],
        "dtype": runs["dtype"],
        "Tokens/s (median)": runs["tokens_per_s"].map(lambda v: _text(v, format_number)),
        "Tokens/s IQR": [("—" if pd.isna(lo) else f"{format_number(lo)}–{format_number(hi)}")
                         for lo, hi in zip(runs["tokens_per_s_q1"], runs["tokens_per_s_q3"])],
        "Step (ms)": runs["step_time_median_s"].map(lambda v: _text(v, lambda s: f"{s * 1e3:,.2f}")),
        "MFU": runs["mfu"].map(lambda v: _text(v, lambda m: f"{m:.1%}")),
        "Peak memory": runs["peak_memory_bytes"].map(lambda v: _text(v, gib)),
        "KV bytes/token": runs["kv_cache_bytes_per_token"].map(lambda v: _text(v, lambda b: f"{int(b):,}")),
        "torch": runs["torch_version"],
        "Measured": runs["created_at"],
    })
