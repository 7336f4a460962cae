"""Graph breaks: how many pieces torch.compile cuts each record's tiny proxy into.

For every record (or the keys given), torch._dynamo.explain traces the training forward with its loss (the
graph AOTAutograd differentiates for the backward) and one cached decode step after a prefill, and prints the
break count of each with the first distinct reasons. Zero means one graph: no Python between kernels, and
CUDA graphs become possible.

    python benchmarks/graph_breaks.py [KEY ...]
"""

import sys
import time

import torch
import torch._dynamo

from builder import build, scale
from zoo.schema import Arch
from zoo.specfile import spec_paths


def _inputs(model, length: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.spec.vocab_size, (2, length), generator=generator)
    inputs = {"input_ids": ids}
    if model.encoder_layers is not None:
        inputs["encoder_input_ids"] = ids
    return inputs


def _explain(function, **inputs) -> tuple[int, list[str]]:
    torch._dynamo.reset()
    explained = torch._dynamo.explain(function)(**inputs)
    reasons = sorted({str(reason.reason).splitlines()[0][:90] for reason in explained.break_reasons})
    return explained.graph_break_count, reasons


def main(keys: list[str]) -> None:
    keys = keys or [path.stem for path in spec_paths()]
    print(f"torch {torch.__version__}")
    print(f"{'record':18s} {'train':>6s} {'decode':>7s}  first reasons")
    totals = [0, 0]
    for key in keys:
        model = build(scale(key, "tiny"), seed=0)
        inputs = _inputs(model, 32)
        start = time.perf_counter()
        train, train_reasons = _explain(lambda **kw: model(**kw, labels=kw["input_ids"]).loss, **inputs)
        decode, decode_reasons = "-", []
        if model.spec.arch is not Arch.encoder:
            cache = model.new_cache(40)
            with torch.no_grad():
                logits = model(**inputs, cache=cache)
                step = {"input_ids": logits[:, -1:].argmax(-1)}
                decode, decode_reasons = _explain(lambda **kw: model(**kw, cache=cache), **step)
            totals[1] += decode
        totals[0] += train
        reasons = "; ".join((train_reasons + decode_reasons)[:2])
        print(f"{key:18s} {train:>6} {decode!s:>7}  {reasons}  ({time.perf_counter() - start:.1f} s)", flush=True)
    print(f"total breaks: train {totals[0]}, decode {totals[1]} over {len(keys)} records")


if __name__ == "__main__":
    main(sys.argv[1:])
