"""`zoo bench`: time a catalogued architecture (or a counterfactual of it) and store the result in the catalog.

    zoo bench llama-2-7b --scale tiny --mode train
    zoo bench --all --scale small --device cpu --mode forward
    zoo bench --compare "llama-2-7b:norm_position=post" llama-2-7b --scale tiny
    zoo bench --stored llama-2-7b                      # rows stored so far
    zoo bench llama-2-7b --scale tiny --mode train --nproc 2            # FSDP2 over 2 ranks (gloo on a CPU)
    zoo bench llama-3-8b --device cuda --mode train --nproc 8 --tp 2 --checkpoint   # FSDP x tensor parallel

Each run prints a table (or JSON with --json) and stores one complete row; a run that fails stores nothing.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.progress import Progress, TextColumn

from builder.bench.timing import Timing
from zoo.catalog import Catalog
from zoo.cli import UsageError
from zoo.display import console, format_number, print_table
from zoo.errors import ZooError

DISPLAY_COLUMNS = ("spec", "mode", "batch", "seq", "dtype", "device", "ranks", "step_ms", "iqr_ms", "tokens_per_s",
                   "gflop_per_token", "achieved", "mfu", "peak_memory", "kv_bytes_per_token", "attention")


def _fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _fmt_rate(flops_per_s: float | None) -> str:
    if flops_per_s is None:
        return "-"
    return f"{flops_per_s / 1e12:.1f} TFLOP/s" if flops_per_s >= 1e12 else f"{flops_per_s / 1e9:.2f} GFLOP/s"


def _scaled(value: float | None, factor: float, spec: str | None) -> str:
    """A stored measurement times `factor`, formatted ('-' where the row has none)."""
    if value is None:
        return "-"
    return spec.format(value * factor) if spec else format_number(round(value * factor, 4))


def _attention_summary(details: dict) -> str:
    """'sdpa x3, eager x1': how many attention modules ran on each backend."""
    counts: dict[str, int] = {}
    for backend in details.get("attention_backends", {}).values():
        counts[backend] = counts.get(backend, 0) + 1
    return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items())) or "-"


def display_row(row: dict) -> dict:
    """A stored benchmark row as the strings the table shows."""
    details = row.get("details") or {}
    kv, kv_measured = row.get("kv_cache_bytes_per_token"), row.get("kv_cache_bytes_per_token_measured")
    return {
        "spec": _spec_name(row),
        "mode": row["mode"],
        "batch": str(row["batch"]),
        "seq": f"{details['prompt']}+{details['new']}" if row["mode"] == "decode" and "prompt" in details else str(row["seq"]),
        "dtype": row["dtype"] + (" compiled" if row["compiled"] else ""),
        "device": row["device_name"] or row["device"],
        "ranks": "1" if row.get("world_size", 1) == 1 else f"{row['world_size']} {row['sharding']}",
        "step_ms": _scaled(row["step_time_median_s"], 1e3, "{:.2f}"),
        "iqr_ms": _scaled(row["step_time_iqr_s"], 1e3, "{:.2f}"),
        "tokens_per_s": _scaled(row["tokens_per_s"], 1, None),
        "gflop_per_token": _scaled(row["flops_per_token"], 1e-9, None),
        "achieved": _fmt_rate(row["achieved_flops_per_s"]),
        "mfu": "-" if row["mfu"] is None else f"{row['mfu']:.1%}",
        "peak_memory": _fmt_bytes(row["peak_memory_bytes"]),
        "kv_bytes_per_token": "-" if kv is None else f"{kv:,}" + ("" if kv_measured is None else f" (measured {kv_measured:,})"),
        "attention": _attention_summary(details),
    }


NUMERIC_COLUMNS = ("batch", "step_ms", "iqr_ms", "tokens_per_s", "gflop_per_token", "achieved", "mfu", "peak_memory")


def _config(args, spec: str):
    from builder.bench.runner import BenchConfig

    dtype = args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")
    return BenchConfig(spec=spec, scale=args.scale, device=args.device, dtype=dtype, mode=args.mode,
                       batch=args.batch, seq=args.seq, prompt=args.prompt, new=args.new, compile=args.compile,
                       warmup=args.warmup, iters=args.iters, spread=args.spread or None, budget_s=args.budget,
                       seed=args.seed)


def _store(catalog, results) -> list[dict]:
    return [catalog.add_benchmark(result.row()).model_dump() for result in results]


def _spec_name(row: dict) -> str:
    return (row.get("details") or {}).get("variant", row["key"])


def _timing(row: dict) -> Timing:
    return Timing((row.get("details") or {}).get("step_times_s") or [row["step_time_median_s"]])


def compare_line(row: dict, base: dict) -> str:
    """'A: 1.234x the tokens/s of B', or 'within noise' when their step times' interquartile ranges overlap."""
    name, base_name = _spec_name(row), _spec_name(base)
    timing, base_timing = _timing(row), _timing(base)
    (low, high), (base_low, base_high) = timing.quartiles, base_timing.quartiles
    ranges = (f"step {row['step_time_median_s'] * 1e3:.2f} ms (IQR {low * 1e3:.2f}-{high * 1e3:.2f}) vs "
              f"{base['step_time_median_s'] * 1e3:.2f} ms (IQR {base_low * 1e3:.2f}-{base_high * 1e3:.2f})")
    if timing.within_noise_of(base_timing):
        return f"{name} vs {base_name}: within noise, {ranges}"
    ratio = row["tokens_per_s"] / base["tokens_per_s"]
    return f"{name}: {ratio:.3f}x the tokens/s of {base_name}, {ranges}"


def _print(rows: list[dict], as_json: bool, compare: bool = False) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    cells = [[display_row(row)[column] for column in DISPLAY_COLUMNS] for row in rows]
    print_table(cells, DISPLAY_COLUMNS, numeric=[column in NUMERIC_COLUMNS for column in DISPLAY_COLUMNS])
    if compare and len(rows) > 1:
        base = rows[-1]
        for row in rows[:-1]:
            print("\n" + compare_line(row, base))


def cmd_bench(args) -> int:
    chosen = [bool(args.key), args.all, bool(args.compare)]
    if args.stored:
        frame = Catalog(args.db).benchmarks(key=args.key)
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        if not rows:
            print(f"no stored benchmarks{' of ' + args.key if args.key else ''}", file=sys.stderr)
            return 1
        _print(rows, args.json)
        return 0
    if sum(chosen) != 1:
        raise UsageError("bench takes exactly one of KEY, --all or --compare SPEC SPEC...")
    if _sharded(args) and not args.key:
        raise UsageError("--nproc, --tp and --checkpoint time one KEY at a time, not --all or --compare")
    from builder.bench.runner import run_benchmark, run_benchmarks  # torch: only for commands that run models

    catalog = Catalog(args.db)
    catalog.check_writable()  # before any model runs, not after
    if args.compare:
        if len(args.compare) < 2:
            raise UsageError("--compare takes at least two specs, e.g. --compare 'llama-2-7b:norm_position=post' llama-2-7b")
        _print(_store(catalog, run_benchmarks([_config(args, spec) for spec in args.compare])), args.json, compare=True)
        return 0
    if args.key and _sharded(args):
        from builder.bench.sharded import run_sharded_benchmark
        from builder.distributed.sharding import Sharding

        sharding = Sharding(args.nproc or 1, args.tp, args.checkpoint)
        _print(_store(catalog, [run_sharded_benchmark(_config(args, args.key), sharding)]), args.json)
        return 0
    if args.key:
        _print(_store(catalog, [run_benchmark(_config(args, args.key))]), args.json)
        return 0
    return _bench_all(args, catalog)


def _sharded(args) -> bool:
    return bool(args.nproc) or args.tp > 1 or args.checkpoint


def _bench_all(args, catalog) -> int:
    """Every catalogued record in turn; a failing record is reported and skipped, the exit says so."""
    from builder.bench.runner import run_benchmark

    keys = catalog.keys()
    rows, failures = [], []
    with Progress(*Progress.get_default_columns(), TextColumn("{task.fields[key]}"), console=console(stderr=True),
                  transient=True) as progress:
        task = progress.add_task("zoo bench --all", total=len(keys), key="")
        for done, key in enumerate(keys):
            progress.update(task, completed=done, key=key)
            progress.console.print(f"{done}/{len(keys)} {key}", markup=False)
            try:
                rows += _store(catalog, [run_benchmark(_config(args, key))])
            except ZooError as error:
                failures.append(str(error))
                progress.console.print(f"  failed: {error}", markup=False)
        progress.update(task, completed=len(keys), key="done")
        progress.console.print(f"{len(keys)}/{len(keys)} done", markup=False)
    if rows:
        _print(rows, args.json)
    for failure in failures:
        print(f"zoo bench: {failure}", file=sys.stderr)
    return 1 if failures else 0


def register_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="time a model (forward, train step or decode) and store the result",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("key", nargs="?", help="record key, optionally with overrides: KEY:FIELD=VALUE[,FIELD=VALUE]")
    bench.add_argument("--all", action="store_true", help="every catalogued record, one after another")
    bench.add_argument("--compare", nargs="+", metavar="SPEC", help="time these specs interleaved, side by side")
    bench.add_argument("--stored", action="store_true", help="print stored rows (of KEY, or all) instead of running")
    bench.add_argument("--scale", choices=("tiny", "small", "1b"), help="time a scaled proxy (default: full size)")
    bench.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    bench.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), help="default: bf16 on cuda, fp32 on cpu")
    bench.add_argument("--mode", choices=("forward", "train", "decode"), default="forward")
    bench.add_argument("--batch", type=int, default=4)
    bench.add_argument("--seq", type=int, default=128, help="tokens per sequence (forward, train)")
    bench.add_argument("--prompt", type=int, default=64, help="prompt tokens prefilled before timing (decode)")
    bench.add_argument("--new", type=int, default=32, help="tokens generated per timed iteration (decode)")
    bench.add_argument("--compile", action="store_true", help="torch.compile the model")
    bench.add_argument("--warmup", type=int, default=2, help="untimed iterations first (default 2)")
    bench.add_argument("--iters", type=int, default=10, help="timed iterations at least (default 10)")
    bench.add_argument("--spread", type=float, default=0.05,
                       help="then time more until every IQR is at most this share of its median (default 0.05; 0: no)")
    bench.add_argument("--budget", type=float, default=30.0,
                       help="... or until the timed steps have taken this many seconds (default 30)")
    bench.add_argument("--nproc", type=int, help="ranks to shard over with FSDP2 (NCCL on cuda, gloo on cpu); "
                                                 "a fixed --iters, no --spread")
    bench.add_argument("--tp", type=int, default=1, help="tensor-parallel degree within --nproc (default 1)")
    bench.add_argument("--checkpoint", action="store_true", help="activation checkpointing per block")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--json", action="store_true", help="print the stored rows as JSON")
    bench.set_defaults(run=cmd_bench)
