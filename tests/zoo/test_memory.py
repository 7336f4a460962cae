"""zoo memory: per-rank bytes against the arithmetic they should match, and its one-line refusals."""

import json

import pytest

from zoo.accounting import param_counts
from zoo.cli import main
from zoo.memory import GIB, MemoryPlanError, MemoryQuestion, fewest_gpus, plan_memory
from zoo.variants import resolve_variant


def _arch(key):
    return resolve_variant(key).architecture


def _parts(plan):
    return {part.name: part.bytes for part in plan.parts}


def test_training_state_is_sixteen_bytes_per_parameter_over_the_shards():
    arch = _arch("llama-2-7b")
    total = param_counts(arch).total
    parts = _parts(plan_memory(arch, MemoryQuestion(mode="train", gpus=8, seq=4096)))
    assert parts["weights"] == parts["gradients"] == -(-total // 8) * 4
    assert parts["optimizer"] == -(-total // 8) * 8


def test_activations_follow_the_stated_formula_for_a_dense_gated_model():
    arch = _arch("llama-2-7b")  # 32 layers, d 4096, 32 heads x 128, d_ff 11008, vocab 32000
    seq = 2048
    per_layer = (2 * 4096 + 2 * 4096 + 2 * 4096 + 2 * 32) + (2 * 4096 + 4 * 11008)
    expected = seq * 32 * per_layer * 2 + seq * 32000 * 8
    assert _parts(plan_memory(arch, MemoryQuestion(seq=seq)))["activations"] == expected
    checkpointed = _parts(plan_memory(arch, MemoryQuestion(seq=seq, checkpoint=True)))["activations"]
    assert checkpointed == seq * (32 * 4096 + per_layer) * 2 + seq * 32000 * 8


def test_inference_holds_weights_in_the_dtype_and_the_kv_cache_of_every_layer():
    arch = _arch("deepseek-67b")  # GQA: 95 layers, 8 KV heads of 128
    parts = _parts(plan_memory(arch, MemoryQuestion(mode="infer", batch=8, seq=4096)))
    assert parts["weights"] == param_counts(arch).total * 2
    assert parts["kv cache"] == 8 * 4096 * 95 * 2 * 8 * 128 * 2


def test_local_layers_cache_only_their_window():
    arch = _arch("gemma-2-9b")  # alternating sliding (4096) and global layers
    full = _parts(plan_memory(arch, MemoryQuestion(mode="infer", seq=8192)))["kv cache"]
    per_token_layer = 2 * arch.n_kv_heads * arch.head_dim * 2
    half = arch.n_layers // 2
    assert full == per_token_layer * (half * 8192 + half * (arch.sliding_window - 1))


def test_more_gpus_until_it_fits_and_none_when_activations_alone_do_not():
    arch = _arch("llama-3.1-405b")
    question = MemoryQuestion(gpus=1, tp=8, seq=4096, checkpoint=True)
    fewest = fewest_gpus(arch, question, "h200")
    assert fewest is not None and fewest % 8 == 0
    assert plan_memory(arch, MemoryQuestion(gpus=fewest, tp=8, seq=4096, checkpoint=True)).fits("h200")
    assert not plan_memory(arch, MemoryQuestion(gpus=fewest - 8, tp=8, seq=4096, checkpoint=True)).fits("h200")
    assert fewest_gpus(arch, MemoryQuestion(seq=131072), "h100") is None


@pytest.mark.parametrize("question, message", [
    (MemoryQuestion(gpus=6, tp=4), "not a multiple of --tp 4"),
    (MemoryQuestion(gpus=3, tp=3), "does not divide the 32 attention heads"),
    (MemoryQuestion(batch=0), "--batch must be at least 1"),
])
def test_questions_that_cannot_be_answered(question, message):
    with pytest.raises(MemoryPlanError, match=message):
        plan_memory(_arch("llama-2-7b"), question)


def test_cli_prints_json_and_one_line_errors(capsys):
    assert main(["memory", "llama-2-7b", "--gpus", "8", "--gpu", "h200", "--seq", "4096", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fits"] and out["fewest_gpus"] == 1 and out["total_bytes"] == sum(p["bytes"] for p in out["parts"])
    assert out["gpu_bytes"] == 141 * GIB
    assert main(["memory", "llama-2-7b", "--gpus", "3", "--tp", "2"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
