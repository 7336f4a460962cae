"""Build times: every record at full size on the meta device, and a tiny proxy's training step on CPU.

Prints one line per record (meta build seconds, exact parameter count, tiny forward+backward
seconds, best of five) so the builder's speed claims are measured, not asserted in tests.

    python benchmarks/build_times.py [KEY ...]
"""

import sys
import time

import torch

from builder import build, scale
from zoo.specfile import spec_paths


def best_of(runs: int, step) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main(keys: list[str]) -> None:
    keys = keys or [path.stem for path in spec_paths()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'record':18s} {'meta build s':>12s} {'parameters':>18s} {'tiny fwd+bwd s':>15s}")
    for key in keys:
        start = time.perf_counter()
        full = build(key, device="meta")
        meta_seconds = time.perf_counter() - start
        proxy = build(scale(key, "tiny"), device="cpu", seed=0)
        ids = torch.randint(0, proxy.spec.vocab_size, (2, 64))
        kwargs = {"encoder_input_ids": ids} if proxy.spec.arch.value == "encoder-decoder" else {}

        def step():
            proxy(ids, labels=ids, **kwargs).loss.backward()

        step_seconds = best_of(5, step)
        print(f"{key:18s} {meta_seconds:12.3f} {full.num_params():18,} {step_seconds:15.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
