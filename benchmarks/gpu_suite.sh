#!/usr/bin/env bash
# The GPU benchmark suite: 1b-scale proxies of a representative set of records, trained for a few steps in
# bf16 with torch.compile on one GPU, a decode run, and llama-2-7b against transformers in the same process;
# every figure goes to one JSON file (and each zoo bench run into the catalog's benchmarks table).
#
#   benchmarks/gpu_suite.sh [--out results.json]     # on a GPU; installs nothing; sized for < 8 min on one H200
#   benchmarks/gpu_suite.sh --smoke [--out x.json]   # the same steps on CPU at the tiny scale (the test suite)
#
# PYTHON picks the interpreter (default: python); SUITE_TIMEOUT caps each step in seconds (default 75), so
# one slow compile is recorded as an error instead of eating the budget.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
OUT="benchmarks/results/gpu_suite-$(date +%Y%m%d-%H%M%S).json"
SMOKE=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --out) OUT="$2"; shift ;;
    *) echo "gpu_suite.sh: unknown argument '$1' (accepted: --smoke, --out PATH)" >&2; exit 2 ;;
  esac
  shift
done

RECORDS=(llama-2-7b mistral-7b gemma-2-27b mixtral-8x7b gpt-neox-20b t5-11b)
PARALLEL=1  # timed GPU steps run one at a time
if [[ $SMOKE == 1 ]]; then
  DEVICE=cpu DTYPE=fp32 SCALE=tiny BATCH=2 SEQ=32 PROMPT=16 NEW=4 WARMUP=0 ITERS=1 SPREAD=0 BUDGET=5 COMPILE=()
  TIMEOUT=${SUITE_TIMEOUT:-120}
  PARALLEL=2  # the CPU smoke checks that every step runs, not how fast: two at a time, one per core
else
  DEVICE=cuda DTYPE=bf16 SCALE=1b BATCH=8 SEQ=2048 PROMPT=512 NEW=128 WARMUP=2 ITERS=5 SPREAD=0.05 BUDGET=15 \
    COMPILE=(--compile)
  TIMEOUT=${SUITE_TIMEOUT:-75}
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "gpu_suite.sh: no CUDA device here; use --smoke to run the suite on CPU" >&2; exit 2; }
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
COMMON=(--scale "$SCALE" --device "$DEVICE" --dtype "$DTYPE" --warmup "$WARMUP" --iters "$ITERS" --spread "$SPREAD"
        --budget "$BUDGET" --json)

# step NAME COMMAND...: run with a time cap; stdout to $WORK/NAME.json, a failure to $WORK/NAME.err
step() {
  local name=$1; shift
  echo "[$(date +%H:%M:%S)] $name" >&2
  if ! timeout "$TIMEOUT" "$@" > "$WORK/$name.json" 2> "$WORK/$name.log"; then
    tail -n 1 "$WORK/$name.log" > "$WORK/$name.err"
    [[ -s "$WORK/$name.err" ]] || echo "timed out after ${TIMEOUT}s" > "$WORK/$name.err"
    echo "  failed: $(cat "$WORK/$name.err")" >&2
  fi
}

# queue NAME COMMAND...: a step, started once fewer than PARALLEL are running
queue() {
  step "$@" &
  while (( $(jobs -rp | wc -l) >= PARALLEL )); do wait -n || true; done
}

for record in "${RECORDS[@]}"; do
  queue "train-$record" "$PYTHON" -m zoo bench "$record" --mode train --batch "$BATCH" --seq "$SEQ" \
    "${COMPILE[@]}" "${COMMON[@]}"
done
queue "decode-llama-2-7b" "$PYTHON" -m zoo bench llama-2-7b --mode decode --batch 1 --prompt "$PROMPT" \
  --new "$NEW" "${COMMON[@]}"
queue "vs-transformers" "$PYTHON" benchmarks/vs_transformers.py --records llama-2-7b --scales "$SCALE" \
  --device "$DEVICE" --dtype "$DTYPE" --mode train --batch "$BATCH" --seq "$SEQ" --warmup "$WARMUP" \
  --iters "$ITERS" "${COMPILE[@]}" --json "$WORK/vs-transformers.result"
wait

mkdir -p "$(dirname "$OUT")"
"$PYTHON" - "$WORK" "$OUT" <<'EOF'
"""Gather every step's JSON (or its one-line error) into one file."""
import json
import pathlib
import sys

import torch

work, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
steps = {}
for log in sorted(work.glob("*.log")):
    name = log.stem
    error = work / f"{name}.err"
    if error.exists():
        steps[name] = {"error": error.read_text().strip()}
    elif name == "vs-transformers":
        steps[name] = json.loads((work / "vs-transformers.result").read_text())
    else:
        steps[name] = json.loads((work / f"{name}.json").read_text())
device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
out.write_text(json.dumps({"device": device, "torch": torch.__version__, "steps": steps}, indent=2))
failed = [name for name, step in steps.items() if "error" in step]
print(f"wrote {out}: {len(steps) - len(failed)} steps ran" + (f", failed: {', '.join(failed)}" if failed else ""))
sys.exit(1 if failed else 0)
EOF
