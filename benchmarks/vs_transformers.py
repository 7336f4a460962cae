"""Our model against transformers' implementation of the same configuration, timed interleaved in one process.

    python benchmarks/vs_transformers.py                                   # CPU forward, tiny and small proxies
    python benchmarks/vs_transformers.py --device cuda --dtype bf16 --mode train --scales 1b --records llama-2-7b \
        --batch 8 --seq 2048 --compile --json out.json

For each record and scale the proxy is built twice from one Architecture: by archzoo's builder and, through
builder.hf.hf_config_from_spec, by transformers (its default attention implementation). Both get the same
token ids and are timed round by round in alternation (builder.bench.measure), because timings drift by
~15% between processes; the printed figure is the ratio of tokens/s, ours over theirs (>= 1: ours is at
least as fast), with both sides' interquartile range and "within noise" where the two ranges overlap.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from builder.bench.runner import Workload, make_optimizer, measure, model_inputs
from builder.construct import build
from builder.devices import DTYPES, resolve_device
from builder.hf import hf_config_from_spec, hf_model
from zoo.variants import scale


def _workload(model, inputs: dict, mode: str, device, labels_shifted: bool) -> Workload:
    """A forward (inference) or a train step (forward, backward, AdamW) of one model on fixed inputs."""
    if mode == "forward":
        model.eval()

        def forward():
            with torch.inference_mode():
                model(**inputs)

        return Workload(forward)
    model.train()
    optimizer, _ = make_optimizer(model, device)
    ids = inputs["input_ids"]
    labels = ids.roll(-1, dims=1) if labels_shifted else ids  # transformers shifts labels itself

    def train():
        optimizer.zero_grad(set_to_none=True)
        model(**inputs, labels=labels).loss.backward()
        optimizer.step()

    return Workload(train)


def compare(key: str, preset: str, args, device) -> dict:
    arch = scale(key, preset).architecture
    dtype = DTYPES[args.dtype]
    ours = build(arch, device=device, dtype=dtype, seed=0)
    config = hf_config_from_spec(arch)
    theirs = hf_model(config, device=device).to(dtype)
    seq = min(args.seq, arch.context_length)
    inputs = model_inputs(arch, args.batch, seq, device, seed=0)
    if args.compile:
        ours, theirs = torch.compile(ours), torch.compile(theirs)
    workloads = {
        "ours": _workload(ours, inputs, args.mode, device, labels_shifted=True),
        "transformers": _workload(theirs, inputs, args.mode, device, labels_shifted=False),
    }
    timings = measure(workloads, device, warmup=args.warmup, iters=args.iters)
    tokens = args.batch * seq
    return {
        "record": key,
        "scale": preset,
        "hf_type": config.model_type,
        "hf_attention": config._attn_implementation,
        "params": sum(p.numel() for p in ours.parameters()),
        "params_transformers": sum(p.numel() for p in theirs.parameters()),
        "batch": args.batch,
        "seq": seq,
        "ours_step_s": timings["ours"].median,
        "transformers_step_s": timings["transformers"].median,
        "ours_iqr_s": timings["ours"].iqr,
        "transformers_iqr_s": timings["transformers"].iqr,
        "ours_tokens_per_s": tokens / timings["ours"].median,
        "transformers_tokens_per_s": tokens / timings["transformers"].median,
        "ratio": timings["transformers"].median / timings["ours"].median,
        "within_noise": timings["ours"].within_noise_of(timings["transformers"]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", nargs="+", default=["llama-2-7b", "gpt2-xl", "gemma-2-9b"])
    parser.add_argument("--scales", nargs="+", default=["tiny", "small"], choices=("tiny", "small", "1b"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=tuple(DTYPES))
    parser.add_argument("--mode", default="forward", choices=("forward", "train"))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128, help="capped at the proxy's context length")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=15)
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--threads", type=int, help="torch intra-op threads for both (default: torch's choice)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    results = []
    print(f"{'record':<12} {'scale':<6} {'params':>12} {'hf attention':<13} {'ours ms':>9} {'iqr':>7} {'hf ms':>9} "
          f"{'iqr':>7} {'ours/hf tokens/s':>17}")
    for key in args.records:
        for preset in args.scales:
            result = compare(key, preset, args, device)
            results.append(result)
            print(f"{key:<12} {preset:<6} {result['params']:>12,} {result['hf_attention']:<13} "
                  f"{result['ours_step_s'] * 1e3:>9.2f} {result['ours_iqr_s'] * 1e3:>7.2f} "
                  f"{result['transformers_step_s'] * 1e3:>9.2f} {result['transformers_iqr_s'] * 1e3:>7.2f} "
                  f"{result['ratio']:>17.3f}{'  within noise' if result['within_noise'] else ''}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": str(device), "dtype": args.dtype, "mode": args.mode, "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
