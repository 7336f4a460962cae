"""benchmarks/: the GPU suite runs end to end on CPU with --smoke, and the transformers comparison runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from zoo.catalog import Catalog

ROOT = Path(__file__).resolve().parents[3]
SUITE_RECORDS = ["llama-2-7b", "mistral-7b", "gemma-2-27b", "mixtral-8x7b", "gpt-neox-20b", "t5-11b"]


def test_gpu_suite_smoke_runs_every_step_and_writes_one_json(tmp_path):
    out = tmp_path / "suite.json"
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), "--smoke", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    steps = result["steps"]
    failed = {name: step["error"] for name, step in steps.items() if isinstance(step, dict) and "error" in step}
    assert not failed, failed  # a step's one-line error (or its time-out) names what went wrong
    assert set(steps) == {f"train-{r}" for r in SUITE_RECORDS} | {"decode-llama-2-7b", "vs-transformers"}
    for record in SUITE_RECORDS:
        (row,) = steps[f"train-{record}"]
        assert row["key"] == record and row["mode"] == "train" and row["variant"] == "scale=tiny"
        assert row["tokens_per_s"] > 0 and row["mfu"] is None  # CPU: no MFU
    (decode,) = steps["decode-llama-2-7b"]
    assert decode["mode"] == "decode" and decode["details"]["new"] == 4
    (versus,) = steps["vs-transformers"]["results"]
    assert versus["record"] == "llama-2-7b" and versus["params"] == versus["params_transformers"]
    stored = Catalog().benchmarks()
    assert sorted(stored["key"]) == sorted(SUITE_RECORDS + ["llama-2-7b"])


def test_gpu_suite_refuses_unknown_arguments():
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), "--fast"], capture_output=True, text=True)
    assert done.returncode == 2 and "unknown argument '--fast'" in done.stderr
