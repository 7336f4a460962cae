"""Benchmarks: build any variant, time forward, train or decode steps interleaved, and store one row per run.

runner.py (configurations, workloads, timing, results), hardware.py (peak FLOP/s for MFU, peak memory),
flop_counter.py (FLOPs the kernels run, attention by FLOPS.md) and cli.py (`zoo bench`).
"""
