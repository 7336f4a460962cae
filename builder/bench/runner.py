"""Benchmarks: build a variant, time forward, train or decode steps, and report throughput, FLOPs and memory.

    from builder.bench.runner import BenchConfig, run_benchmark
    result = run_benchmark(BenchConfig("llama-2-7b", scale="tiny", mode="train"))
    result.row()          # a zoo.catalog.BenchmarkRow, ready for Catalog().add_benchmark

Every iteration is timed on its own (CUDA events on a GPU, a monotonic clock on a CPU) after warm-up
iterations that also absorb compilation; several workloads can be timed interleaved, round by round, so
drift over a run (clocks, caches, other load) falls on all of them alike. Step time is the median over the
timed iterations and its spread the interquartile range. FLOPs follow FLOPS.md (zoo.flops); MFU and peak
memory come from builder.bench.hardware.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from builder.bench.flop_counter import attention_flop_counter
from builder.bench.hardware import CudaPeakMemory, mfu, peak_tensor_bytes
from builder.bench.timing import Timing
from builder.construct import build
from builder.devices import DTYPES, device_name, resolve_device
from zoo.accounting import kv_cache_bytes_per_token, param_counts
from zoo.catalog import BenchmarkRow
from zoo.errors import ZooError
from zoo.flops import MODES, decode_flops_per_token, flop_breakdown
from zoo.schema import Arch, Architecture
from zoo.variants import Variant, resolve_variant


class BenchError(ZooError):
    """A benchmark that cannot run as asked; the message is one line for the user."""


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run. `spec` is a variant text ('KEY' or 'KEY:FIELD=VALUE,...'); see zoo.variants."""

    spec: str
    scale: str | None = None
    device: str = "cpu"
    dtype: str = "fp32"
    mode: str = "forward"
    batch: int = 4
    seq: int = 128  # forward and train: tokens per sequence
    prompt: int = 64  # decode: prompt tokens prefilled before timing
    new: int = 32  # decode: tokens generated per timed iteration
    compile: bool = False
    warmup: int = 2
    iters: int = 10  # timed rounds at least
    spread: float | None = 0.05  # then more rounds until every IQR is at most this share of its median (None: no)
    budget_s: float = 30.0  # ... or until the timed steps have taken this long (or 10 x iters rounds)
    seed: int = 0


# ----- timing


class Stopwatch:
    """Seconds taken by one call: CUDA events on a GPU (work queued before start is not counted), else
    time.perf_counter."""

    def __init__(self, device: torch.device):
        self.device = device

    def time(self, run: Callable[[], object]) -> float:
        if self.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000
        begin = time.perf_counter()
        run()
        return time.perf_counter() - begin


@dataclass
class Workload:
    """One timed step: `prepare` runs untimed before each iteration, `run` is what is timed."""

    run: Callable[[], object]
    prepare: Callable[[], object] = lambda: None
    tokens_per_step: int = 0


def measure(workloads: dict[str, Workload], device: torch.device, *, warmup: int, iters: int,
            spread: float | None = None, budget_s: float | None = None) -> dict[str, Timing]:
    """Time each workload at least `iters` times after `warmup` untimed rounds, interleaved round by round.

    With `spread`, rounds go on until every workload's interquartile range is at most that share of its
    median, or the timed steps have taken `budget_s` seconds, or 10 x iters rounds have run: a noisy machine
    gets more samples, and the spread it is left with is reported, not hidden.
    """
    stopwatch = Stopwatch(device)
    timings = {name: Timing([]) for name in workloads}
    rounds, spent = 0, 0.0
    while True:
        for name, workload in workloads.items():
            workload.prepare()
            elapsed = stopwatch.time(workload.run)
            if rounds >= warmup:
                timings[name].times.append(elapsed)
                spent += elapsed
        rounds += 1
        timed = rounds - warmup
        if timed < iters:
            continue
        if spread is None or timed >= 10 * iters or (budget_s is not None and spent >= budget_s):
            return timings
        if all(timing.iqr <= spread * timing.median for timing in timings.values()):
            return timings


# ----- workloads


def _random_ids(arch: Architecture, batch: int, length: int, device: torch.device, generator: torch.Generator):
    return torch.randint(0, arch.vocab_size, (batch, length), device=device, generator=generator)


def model_inputs(arch: Architecture, batch: int, seq: int, device: torch.device, seed: int) -> dict:
    """Random token ids for one step (an encoder-decoder also gets a source of the same length)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    inputs = {"input_ids": _random_ids(arch, batch, seq, device, generator)}
    if arch.arch is Arch.encoder_decoder:
        inputs["encoder_input_ids"] = _random_ids(arch, batch, seq, device, generator)
    return inputs


def forward_workload(model, runner, config: BenchConfig, device) -> Workload:
    inputs = model_inputs(model.spec, config.batch, config.seq, device, config.seed)
    model.eval()

    def run():
        with torch.inference_mode():
            runner(**inputs)

    return Workload(run, tokens_per_step=config.batch * config.seq)


def make_optimizer(model: torch.nn.Module, device: torch.device) -> tuple[torch.optim.Optimizer, str]:
    """AdamW, fused where this torch has a fused kernel for the device and dtype; the name says which."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True), "AdamW(fused)"
    except RuntimeError:
        return torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=device.type == "cuda"), "AdamW(unfused)"


def train_workload(model, runner, config: BenchConfig, device, optimizer) -> Workload:
    inputs = model_inputs(model.spec, config.batch, config.seq, device, config.seed)
    labels = inputs["input_ids"].roll(-1, dims=1)
    model.train()

    def run():
        optimizer.zero_grad(set_to_none=True)
        runner(**inputs, labels=labels).loss.backward()
        optimizer.step()

    return Workload(run, tokens_per_step=config.batch * config.seq)


def decode_workload(model, runner, config: BenchConfig, device, prefill_times: list[float]) -> Workload:
    """Untimed: a fresh cache filled by the prompt (its time kept in prefill_times). Timed: `new` greedy
    steps of one token each through the cache."""
    arch = model.spec
    generator = torch.Generator(device=device).manual_seed(config.seed)
    prompt = _random_ids(arch, config.batch, config.prompt, device, generator)
    source = _random_ids(arch, config.batch, config.prompt, device, generator) if arch.arch is Arch.encoder_decoder else None
    stopwatch = Stopwatch(device)
    state = {}
    model.eval()

    def prefill():
        cache = model.new_cache(config.prompt + config.new)
        extra = {} if source is None else {"encoder_input_ids": source}
        with torch.inference_mode():
            logits = runner(prompt, cache=cache, **extra)
        state["cache"], state["token"] = cache, logits[:, -1].argmax(-1, keepdim=True)

    def prepare():
        prefill_times.append(stopwatch.time(prefill))

    def run():
        cache, token = state["cache"], state["token"]
        with torch.inference_mode():
            for _ in range(config.new):
                token = runner(token, cache=cache)[:, -1].argmax(-1, keepdim=True)

    return Workload(run, prepare, tokens_per_step=config.batch * config.new)


def measured_kv_bytes_per_token(model, device: torch.device) -> int | None:
    """Bytes of keys and values one token occupies in the cache tensors a short prompt fills, summed over the
    layers (None for an encoder).

    Read from the allocated tensors (their heads, width and dtype), per cached token of one row, so it does
    not depend on how many slots a layer preallocates; comparable with
    zoo.accounting.kv_cache_bytes_per_token, which counts local layers too.
    """
    arch = model.spec
    if arch.arch is Arch.encoder:
        return None
    length = min(8, arch.context_length)
    inputs = model_inputs(arch, 1, length, device, seed=0)
    cache = model.new_cache(length)
    with torch.inference_mode():
        model(**inputs, cache=cache)
    return sum(layer.bytes_per_token() for layer in cache.layers)


def counted_flops(model, seq: int, device: torch.device) -> tuple[float, dict[str, int]]:
    """FLOPs per token FlopCounterMode counts for one forward of a batch-1 sequence, total and by aten op.

    The ops name the kernels that ran (the SDPA variant, flex_attention, or the bmm of eager attention),
    which with the builder's per-layer backend names shows whether attention ran fused. Compiled code is
    run eagerly under the counter, so this uses the uncompiled model.
    """
    inputs = model_inputs(model.spec, 1, seq, device, seed=0)
    counter = attention_flop_counter()
    with torch.inference_mode(), counter:
        model(**inputs)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return counter.get_total_flops() / seq, by_op


# ----- running


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
    )


@dataclass
class BenchResult:
    """Everything a run measured; `row()` turns it into the catalog's BenchmarkRow."""

    config: BenchConfig
    variant: Variant
    device: str
    device_name: str
    timing: Timing
    tokens_per_step: int
    flops_per_token: float
    peak_memory_bytes: int | None
    kv_cache_bytes_per_token: int | None
    kv_cache_bytes_per_token_measured: int | None
    details: dict = field(default_factory=dict)
    world_size: int = 1  # ranks the step ran on (builder.bench.sharded)
    sharding: str = "none"  # how they split the model: fsdp, fsdp+tp2, tp2 (+ckpt)
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def seq(self) -> int:
        return self.config.prompt if self.config.mode == "decode" else self.config.seq

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.timing.median

    @property
    def achieved_flops_per_s(self) -> float:
        return self.flops_per_token * self.tokens_per_s

    @property
    def mfu(self) -> float | None:
        """Against the combined peak of every rank's device."""
        per_device = mfu(self.achieved_flops_per_s, self.device_name, self.config.dtype, torch.device(self.device).type)
        return None if per_device is None else per_device / self.world_size

    def row(self) -> BenchmarkRow:
        return BenchmarkRow(
            key=self.variant.key,
            spec_json=self.variant.architecture.model_dump_json(),
            variant=self.variant.label,
            mode=self.config.mode,
            batch=self.config.batch,
            seq=self.seq,
            dtype=self.config.dtype,
            compiled=self.config.compile,
            world_size=self.world_size,
            sharding=self.sharding,
            device=self.device,
            device_name=self.device_name,
            torch_version=torch.__version__,
            created_at=self.created_at,
            tokens_per_s=self.tokens_per_s,
            step_time_median_s=self.timing.median,
            step_time_iqr_s=self.timing.iqr,
            flops_per_token=self.flops_per_token,
            achieved_flops_per_s=self.achieved_flops_per_s,
            mfu=self.mfu,
            peak_memory_bytes=self.peak_memory_bytes,
            kv_cache_bytes_per_token=self.kv_cache_bytes_per_token,
            kv_cache_bytes_per_token_measured=self.kv_cache_bytes_per_token_measured,
            details=json.loads(json.dumps(self.details)),
        )


def _check_config(config: BenchConfig, arch: Architecture) -> None:
    if config.mode not in MODES:
        raise BenchError(f"unknown mode '{config.mode}'; accepted: {', '.join(MODES)}")
    if config.dtype not in DTYPES:
        raise BenchError(f"unknown dtype '{config.dtype}'; accepted: {', '.join(DTYPES)}")
    for name in ("batch", "seq", "prompt", "new", "iters"):
        if getattr(config, name) < 1:
            raise BenchError(f"--{name} must be at least 1, got {getattr(config, name)}")
    if config.warmup < 0:
        raise BenchError(f"--warmup must be at least 0, got {config.warmup}")
    if config.spread is not None and config.spread < 0:
        raise BenchError(f"--spread must be at least 0 (0: a fixed --iters), got {config.spread}")
    if config.budget_s <= 0:
        raise BenchError(f"--budget must be a positive number of seconds, got {config.budget_s}")
    if config.mode == "decode" and arch.arch is Arch.encoder:
        raise BenchError(f"{config.spec}: decode needs a decoder; an encoder-only model generates nothing")
    length = config.prompt + config.new if config.mode == "decode" else config.seq
    if length > arch.context_length:
        what = f"prompt + new ({length})" if config.mode == "decode" else f"seq ({length})"
        raise BenchError(f"{config.spec}: {what} exceeds the context length {arch.context_length} of this architecture")


def _flops_per_token(config: BenchConfig, arch: Architecture) -> tuple[float, dict]:
    if config.mode == "decode":
        return decode_flops_per_token(arch, config.prompt, config.new), {}
    breakdown = flop_breakdown(arch, config.seq, config.mode)
    parts = {name: getattr(breakdown, name) for name in ("projections", "attention", "mlp", "head")}
    return breakdown.total, parts


class _Run:
    """One configuration on one built model: its workload and what it needs to be rebuilt at another batch."""

    def __init__(self, config: BenchConfig, model, device: torch.device):
        self.config, self.model, self.device = config, model, device
        self.runner = torch.compile(model) if config.compile else model
        self.prefill_times: list[float] = []
        self.optimizer, self.optimizer_name = None, None
        if config.mode == "train":
            self.optimizer, self.optimizer_name = make_optimizer(model, device)
            self.workload = train_workload(model, self.runner, config, device, self.optimizer)
        elif config.mode == "decode":
            self.workload = decode_workload(model, self.runner, config, device, self.prefill_times)
        else:
            self.workload = forward_workload(model, self.runner, config, device)


def _largest_batch_that_fits(config: BenchConfig, model, device: torch.device) -> tuple[list[int], int | None]:
    """Halve the batch until one step runs; (batches tried, the one that fits or None)."""
    tried = [config.batch]
    batch = config.batch // 2
    while batch >= 1:
        tried.append(batch)
        _free(device)
        try:
            _Run(_with(config, batch=batch), model, device).workload.run()
            return tried, batch
        except Exception as error:  # noqa: BLE001 - only out-of-memory continues the search
            if not _is_out_of_memory(error):
                raise
        batch //= 2
    return tried, None


def _with(config: BenchConfig, **changes) -> BenchConfig:
    return BenchConfig(**{**config.__dict__, **changes})


def _free(device: torch.device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _oom_message(config: BenchConfig, name: str, tried: list[int], fits: int | None) -> str:
    size = f"{config.mode} at batch {config.batch} x {'prompt ' + str(config.prompt) if config.mode == 'decode' else 'seq ' + str(config.seq)}"
    sizes = ", ".join(str(b) for b in tried)
    verdict = (f"batch {fits} fits; rerun with --batch {fits}" if fits is not None
               else "not even batch 1 fits; try a shorter sequence or a smaller --scale")
    return f"{config.spec}: out of memory on {name} ({config.dtype}) for {size} (batches tried: {sizes}): {verdict}"


def prepare_run(config: BenchConfig) -> tuple[Variant, torch.device, _Run]:
    """Resolve, check and build one configuration (no timing yet); BenchError with one line on bad input."""
    device = resolve_device(config.device)
    variant = resolve_variant(config.spec, config.scale)
    _check_config(config, variant.architecture)
    try:
        model = build(variant.architecture, device=device, dtype=DTYPES[config.dtype], seed=config.seed)
    except MemoryError as error:
        raise BenchError(f"{config.spec}: {error}") from None
    model.source = variant.name
    return variant, device, _Run(config, model, device)


def run_benchmarks(configs: list[BenchConfig]) -> list[BenchResult]:
    """Build every configuration, then time them interleaved round by round (one run: just that one).

    Nothing is returned unless every configuration ran: out of memory becomes a BenchError naming the
    batch sizes tried and the largest that fits.
    """
    prepared = [prepare_run(config) for config in configs]
    workloads = {str(i): run.workload for i, (_, _, run) in enumerate(prepared)}
    device = prepared[0][1]
    out_of_memory = False
    first = configs[0]
    try:
        with CudaPeakMemory(device) if device.type == "cuda" else contextlib.nullcontext() as peak:
            timings = measure(workloads, device, warmup=first.warmup, iters=first.iters, spread=first.spread,
                              budget_s=first.budget_s)
        peaks = [peak.bytes if peak is not None else _cpu_peak_bytes(run) for _, _, run in prepared]
    except Exception as error:  # noqa: BLE001 - out of memory is reported with sizes, anything else re-raised
        if not _is_out_of_memory(error):
            raise
        out_of_memory = True  # searched for below, once the traceback no longer holds the step's tensors
    if out_of_memory:
        _free(device)
        for variant, device, run in prepared:
            tried, fits = _largest_batch_that_fits(run.config, run.model, device)
            if fits is None or fits < run.config.batch:
                raise BenchError(_oom_message(run.config, device_name(device), tried, fits))
        raise BenchError(f"out of memory timing {len(configs)} configurations together; run them one at a time")
    return [_result(run, variant, device, timings[str(i)], peaks[i]) for i, (variant, device, run) in enumerate(prepared)]


def _cpu_peak_bytes(run: _Run) -> int:
    """One more step (untimed) with its tensors counted: the model's weights, gradients and optimizer state,
    plus the most the step itself holds at once (builder.bench.hardware.peak_tensor_bytes)."""
    held = [*run.model.parameters(), *run.model.buffers(), *(p.grad for p in run.model.parameters())]
    if run.optimizer is not None:
        held += [value for state in run.optimizer.state.values() for value in state.values() if torch.is_tensor(value)]

    def step():
        run.workload.prepare()
        run.workload.run()

    return peak_tensor_bytes(step, held)


def run_benchmark(config: BenchConfig) -> BenchResult:
    """Run one configuration; see run_benchmarks."""
    return run_benchmarks([config])[0]


def _result(run: _Run, variant: Variant, device: torch.device, timing: Timing, peak_bytes: int | None) -> BenchResult:
    config, model, arch = run.config, run.model, variant.architecture
    flops, parts = _flops_per_token(config, arch)
    counts = param_counts(arch)
    counted, by_op = counted_flops(model, config.prompt if config.mode == "decode" else config.seq, device)
    details = {
        "variant": variant.name,
        "scale": config.scale,
        "overrides": variant.overrides,
        "warmup": config.warmup,
        "iters": config.iters,
        "rounds": len(timing.times),
        "spread_target": config.spread,
        "step_times_s": timing.times,
        "tokens_per_step": run.workload.tokens_per_step,
        "params_total": counts.total,
        "params_active": counts.active,
        "flops_breakdown_per_token": parts,
        "attention_backends": model.attention_backends(),
        "flops_per_token_counted_forward": counted,
        "counted_flops_by_op": by_op,
        "peak_memory": "torch.cuda.max_memory_allocated" if device.type == "cuda"
        else "tensor storage counted op by op over one more step, weights, gradients and optimizer state included",
        "threads": torch.get_num_threads(),
        "seed": config.seed,
    }
    if config.mode == "decode":
        timed_prefills = run.prefill_times[config.warmup:config.warmup + len(timing.times)]
        details.update(prompt=config.prompt, new=config.new, prefill_time_median_s=statistics.median(timed_prefills))
    if run.optimizer_name:
        details["optimizer"] = run.optimizer_name
    encoder = arch.arch is Arch.encoder
    return BenchResult(
        config=config,
        variant=variant,
        device=str(device),
        device_name=device_name(device),
        timing=timing,
        tokens_per_step=run.workload.tokens_per_step,
        flops_per_token=flops,
        peak_memory_bytes=peak_bytes,
        kv_cache_bytes_per_token=None if encoder else kv_cache_bytes_per_token(arch, DTYPES[config.dtype].itemsize),
        kv_cache_bytes_per_token_measured=measured_kv_bytes_per_token(model, device),
        details=details,
    )
