"""Compiled greedy decoding: ours against transformers' compiled static-cache `generate`, interleaved in one process.

    python benchmarks/decode_vs_transformers.py                          # llama-2-7b tiny and small, 128 new tokens
    python benchmarks/decode_vs_transformers.py --records gemma-2-9b --scales tiny --new 128 --json out.json

Both sides do the same work: an eager prefill of the prompt, then `new - 1` single-token steps through a
preallocated cache with a torch.compile'd forward (ours: `torch.compile(model)` called with our KVCache;
transformers: `generate(cache_implementation="static")` with a CompileConfig, which compiles its decoding
forward, on CPU too). Compilation happens in the warm-up rounds; the timed rounds must not recompile, and the
script fails if the two sides' tokens differ. The printed ratio is ours over theirs in tokens/s (>= 1: ours is at
least as fast), marked "within noise" where the two interquartile ranges overlap.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from builder.bench.runner import Workload, measure
from builder.construct import build
from builder.devices import DTYPES, resolve_device
from builder.hf import hf_config_from_spec, hf_model, load_hf_weights
from zoo.variants import scale


def _ours(model, prompt: torch.Tensor, new: int) -> tuple[Workload, dict]:
    compiled = torch.compile(model)
    result = {}

    def generate():
        with torch.inference_mode():
            cache = model.new_cache(prompt.shape[1] + new - 1)
            logits = model(prompt, cache=cache)  # eager prefill, as transformers does
            tokens = [logits[:, -1].argmax(-1, keepdim=True)]
            for _ in range(new - 1):
                tokens.append(compiled(tokens[-1], cache=cache)[:, -1].argmax(-1, keepdim=True))
        result["tokens"] = torch.cat(tokens, dim=1)

    return Workload(generate), result


def _theirs(model, prompt: torch.Tensor, new: int) -> tuple[Workload, dict]:
    from transformers import CompileConfig, GenerationConfig

    compile_config = CompileConfig(fullgraph=False, mode="default")
    compile_config._compile_all_devices = True  # transformers' documented switch to compile on a CPU too
    # A random proxy has no end of text: with the config's eos id, generate would stop at it, or (min_new_tokens)
    # suppress it and pick another token where ours picks it.
    model.generation_config.eos_token_id = None
    config = GenerationConfig(max_new_tokens=new, do_sample=False, cache_implementation="static",
                              compile_config=compile_config, pad_token_id=0)
    result = {}

    def generate():
        with torch.inference_mode():
            out = model.generate(prompt, attention_mask=torch.ones_like(prompt), generation_config=config)
        result["tokens"] = out[:, prompt.shape[1]:]

    return Workload(generate), result


def compare(key: str, preset: str, args, device) -> dict:
    arch = scale(key, preset).architecture
    ours = build(arch, device=device, dtype=DTYPES[args.dtype], seed=0).eval()
    torch.manual_seed(0)  # transformers initialises from the global generator: the same weights every run
    theirs = hf_model(hf_config_from_spec(arch), device=device).to(DTYPES[args.dtype]).eval()
    load_hf_weights(ours, theirs.state_dict(), theirs.config.model_type)  # one set of weights: the same tokens
    generator = torch.Generator(device=device).manual_seed(0)
    prompt = torch.randint(0, arch.vocab_size, (args.batch, args.prompt), generator=generator, device=device)
    (ours_run, ours_out), (theirs_run, theirs_out) = _ours(ours, prompt, args.new), _theirs(theirs, prompt, args.new)
    torch._dynamo.reset()
    timings = measure({"ours": ours_run, "transformers": theirs_run}, device, warmup=args.warmup, iters=args.iters)
    same = torch.equal(ours_out["tokens"], theirs_out["tokens"])
    tokens = args.batch * args.new
    return {
        "record": key, "scale": preset, "batch": args.batch, "prompt": args.prompt, "new": args.new,
        "ours_s": timings["ours"].median, "transformers_s": timings["transformers"].median,
        "ours_iqr_s": timings["ours"].iqr, "transformers_iqr_s": timings["transformers"].iqr,
        "ours_tokens_per_s": tokens / timings["ours"].median,
        "transformers_tokens_per_s": tokens / timings["transformers"].median,
        "ratio": timings["transformers"].median / timings["ours"].median, "same_tokens": same,
        "within_noise": timings["ours"].within_noise_of(timings["transformers"]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", nargs="+", default=["llama-2-7b"])
    parser.add_argument("--scales", nargs="+", default=["tiny", "small"], choices=("tiny", "small", "1b"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=tuple(DTYPES))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--new", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=7)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    results = []
    print(f"{'record':<12} {'scale':<6} {'ours s':>8} {'iqr':>6} {'hf s':>8} {'iqr':>6} {'ours/hf tokens/s':>17}  same tokens")
    for key in args.records:
        for preset in args.scales:
            r = compare(key, preset, args, device)
            results.append(r)
            print(f"{key:<12} {preset:<6} {r['ours_s']:>8.3f} {r['ours_iqr_s']:>6.3f} {r['transformers_s']:>8.3f} "
                  f"{r['transformers_iqr_s']:>6.3f} {r['ratio']:>17.3f}  {r['same_tokens']}"
                  f"{'  within noise' if r['within_noise'] else ''}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": str(device), "dtype": args.dtype, "torch": torch.__version__, "results": results},
                      handle, indent=2)
    return 0 if all(r["same_tokens"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
