"""Benchmarks over N ranks: the model sharded by builder.distributed, every rank timing the same steps.

Each rank builds the model, shards it and times `iters` steps after `warmup` (a fixed count: ranks that
decided on their own when the spread is small enough would stop at different steps and hang a collective).
A scaled proxy is first built whole from the seed on every rank and then sharded, so its weights equal a
one-process run's; a full-size model is built on the meta device, sharded, and only then materialised
(`to_empty` and the modules' own init), so no rank ever holds all of it. Each data-parallel rank gets its
own batch (seed + its data-parallel index); tokens/s counts all of them, MFU divides by the devices' combined
peak, and peak memory is the largest of any rank.
"""

from __future__ import annotations

import os

import torch

from builder.bench.hardware import CudaPeakMemory, peak_tensor_bytes
from builder.bench.runner import BenchConfig, BenchResult, _check_config, _flops_per_token, _Run, _with, measure
from builder.bench.timing import Timing
from builder.devices import DTYPES, device_name, resolve_device
from builder.distributed.launch import launch
from builder.distributed.sharding import (Sharding, available_devices, build_sharded, check_sharding, device_mesh,
                                          local_parameter_count)
from zoo.accounting import kv_cache_bytes_per_token, param_counts
from zoo.schema import Arch
from zoo.variants import resolve_variant


def _rank_device(device_type: str) -> torch.device:
    if device_type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
        return device
    return torch.device("cpu")


def _held(model, optimizer) -> list[torch.Tensor]:
    """This rank's local storage of weights, gradients and optimizer state."""
    from torch.distributed.tensor import DTensor

    def local(t):
        return t.to_local() if isinstance(t, DTensor) else t

    held = [local(p) for p in model.parameters()] + [local(p.grad) for p in model.parameters() if p.grad is not None]
    if optimizer is not None:
        held += [local(v) for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)]
    return held


def rank_main(config: BenchConfig, sharding: Sharding) -> dict:
    """One rank: join the group, build and shard, time the steps; its timings, memory and shard size."""
    import torch.distributed as dist

    device_type = resolve_device(config.device).type
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    try:
        device = _rank_device(device_type)
        if device_type == "cpu":  # the cores shared out, not every rank on all of them
            torch.set_num_threads(max(1, available_devices("cpu") // sharding.world_size))
        mesh = device_mesh(sharding, device_type)
        arch = resolve_variant(config.spec, config.scale).architecture
        compute = DTYPES[config.dtype]
        mixed = sharding.dp > 1 or sharding.tp == 1
        mixed = mixed and config.mode == "train" and compute != torch.float32  # fp32 shards, low-precision compute
        stored = torch.float32 if mixed else compute
        model = build_sharded(arch, sharding, mesh, device, stored, compute if mixed else None, config.seed,
                              whole_first=config.scale is not None)
        dp_rank = mesh["dp"].get_local_rank()
        run = _Run(_with(config, seed=config.seed + dp_rank), model, device)  # each data-parallel rank its own batch
        workload, optimizer, optimizer_name = run.workload, run.optimizer, run.optimizer_name
        if device_type == "cuda":
            with CudaPeakMemory(device) as peak:
                timing = measure({"step": workload}, device, warmup=config.warmup, iters=config.iters)["step"]
            peak_bytes = peak.bytes
        else:
            timing = measure({"step": workload}, device, warmup=config.warmup, iters=config.iters)["step"]

            def step():
                workload.prepare()
                workload.run()

            peak_bytes = peak_tensor_bytes(step, _held(model, optimizer))
        return {"times": timing.times, "peak_memory_bytes": peak_bytes, "local_params": local_parameter_count(model),
                "tokens_per_step": workload.tokens_per_step, "optimizer": optimizer_name,
                "attention_backends": model.attention_backends(device_type), "threads": torch.get_num_threads()}
    finally:
        dist.destroy_process_group()


def run_sharded_benchmark(config: BenchConfig, sharding: Sharding) -> BenchResult:
    """Check, launch sharding.world_size ranks, and gather their measurements into one result."""
    device = resolve_device(config.device)
    variant = resolve_variant(config.spec, config.scale)
    arch = variant.architecture
    _check_config(config, arch)
    check_sharding(arch, sharding, device.type, config.mode)
    ranks = launch(rank_main, (config, sharding), sharding.world_size)
    first = ranks[0]
    flops, parts = _flops_per_token(config, arch)
    counts = param_counts(arch)
    details = {
        "variant": variant.name, "scale": config.scale, "overrides": variant.overrides,
        "warmup": config.warmup, "iters": config.iters, "rounds": len(first["times"]),
        "spread_target": None, "step_times_s": first["times"],
        "tokens_per_step": first["tokens_per_step"] * sharding.dp,
        "params_total": counts.total, "params_active": counts.active,
        "params_per_rank": [ranks[rank]["local_params"] for rank in sorted(ranks)],
        "flops_breakdown_per_token": parts, "attention_backends": first["attention_backends"],
        "peak_memory": ("torch.cuda.max_memory_allocated, the largest rank" if device.type == "cuda" else
                        "tensor storage counted op by op over one more step, weights, gradients and optimizer "
                        "state included; the largest rank"),
        "peak_memory_per_rank": [ranks[rank]["peak_memory_bytes"] for rank in sorted(ranks)],
        "threads_per_rank": first["threads"], "seed": config.seed,
        "materialised": "seeded whole, then sharded" if config.scale is not None else "meta, sharded, then initialised",
        "checkpointing": sharding.checkpoint,
    }
    if first["optimizer"]:
        details["optimizer"] = first["optimizer"]
    if config.mode == "decode":
        details.update(prompt=config.prompt, new=config.new)
    encoder = arch.arch is Arch.encoder
    return BenchResult(
        config=config, variant=variant, device=str(device), device_name=device_name(device),
        timing=Timing(first["times"]), tokens_per_step=first["tokens_per_step"] * sharding.dp,
        flops_per_token=flops, peak_memory_bytes=max(rank["peak_memory_bytes"] for rank in ranks.values()),
        kv_cache_bytes_per_token=None if encoder else kv_cache_bytes_per_token(arch, DTYPES[config.dtype].itemsize),
        kv_cache_bytes_per_token_measured=None, details=details,
        world_size=sharding.world_size, sharding=sharding.name,
    )
