"""FSDP2 and tensor parallelism on CPU ranks (gloo): the same losses as one process, exact shard counts, and
one-line refusals. Each launch starts fresh processes, so the ranks share one launch per sharding."""

import json

import pytest
import torch
import torch.distributed as dist

from builder import build, scale
from builder.distributed.launch import launch
from builder.distributed.sharding import (Sharding, ShardingError, build_sharded, check_sharding, device_mesh,
                                          local_parameter_count, shard)
from zoo.accounting import param_counts
from zoo.cli import main
from zoo.variants import resolve_variant

STEPS = 3


def _batches(arch, count: int) -> list[torch.Tensor]:
    """One batch of 2 sequences per data-parallel rank (their concatenation is the one-process batch)."""
    ids = torch.randint(0, arch.vocab_size, (2 * count, 16), generator=torch.Generator().manual_seed(1))
    return list(ids.chunk(count))


def _train(model, ids: torch.Tensor, reduce=None) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = model(ids, labels=ids.roll(-1, dims=1)).loss
        loss.backward()
        optimizer.step()
        losses.append(reduce(loss.detach()) if reduce else loss.item())
    return losses


def rank_losses(runs: list[tuple[str, Sharding, bool]]) -> dict[tuple[str, str, bool], list[float]]:
    """On one rank: each (tiny proxy, sharding, whole first), sharded, trained STEPS steps; the mean loss over
    ranks per step, and this rank's parameter count."""
    dist.init_process_group("gloo")
    try:
        torch.set_num_threads(1)
        out = {}
        for key, sharding, whole_first in runs:
            mesh = device_mesh(sharding, "cpu")
            dp_rank = mesh["dp"].get_local_rank()

            def mean_over_ranks(loss):
                dist.all_reduce(loss)
                return loss.item() / sharding.world_size

            arch = scale(key, "tiny").architecture
            model = build_sharded(arch, sharding, mesh, torch.device("cpu"), torch.float32, seed=0,
                                  whole_first=whole_first)
            losses = _train(model, _batches(arch, sharding.dp)[dp_rank], mean_over_ranks)
            out[key, sharding.name, whole_first] = losses, local_parameter_count(model)
        return out
    finally:
        dist.destroy_process_group()


def _one_process(key: str, data_ranks: int) -> list[float]:
    model = build(scale(key, "tiny"), seed=0)
    return _train(model, torch.cat(_batches(model.spec, data_ranks)))


FSDP_KEYS = ["llama-2-7b", "mixtral-8x7b", "gemma-2-9b"]  # dense; MoE; alternating sliding and global layers
TP = Sharding(2, tp=2, checkpoint=True)


@pytest.fixture(scope="module")
def two_rank_losses():
    """One launch of two ranks for every sharded run below (starting ranks costs more than their steps)."""
    runs = [(key, Sharding(2), True) for key in FSDP_KEYS]
    runs += [("llama-3-8b", TP, True), ("llama-2-7b", Sharding(2), False)]  # TP; materialised from meta
    return launch(rank_losses, (runs,), 2)


@pytest.mark.parametrize("key", FSDP_KEYS)
def test_fsdp_over_two_ranks_trains_as_one_process(two_rank_losses, key):
    expected = _one_process(key, data_ranks=2)
    for rank in (0, 1):
        assert two_rank_losses[rank][key, "fsdp", True][0] == pytest.approx(expected, abs=1e-5)
    assert expected[-1] < expected[0]  # the steps trained


def test_tensor_parallel_gqa_with_checkpointing_trains_as_one_process(two_rank_losses):
    """llama-3-8b's proxy: 8 heads and 2 KV heads, so each rank runs 4 query heads on 1 KV head."""
    expected = _one_process("llama-3-8b", data_ranks=1)
    assert two_rank_losses[0]["llama-3-8b", "tp2+ckpt", True][0] == pytest.approx(expected, abs=1e-5)


def test_a_model_built_on_meta_is_materialised_in_shards_and_trains(two_rank_losses):
    losses, count = two_rank_losses[0]["llama-2-7b", "fsdp", False]
    total = param_counts(scale("llama-2-7b", "tiny").architecture).total
    assert count + two_rank_losses[1]["llama-2-7b", "fsdp", False][1] == total
    assert all(loss == loss for loss in losses) and losses[-1] < losses[0]


def test_a_full_size_record_on_meta_shards_into_counts_that_sum_to_the_total():
    """llama-2-7b at full size over 8 ranks, each rank's shards measured (a fake process group stands in for
    8 processes: sharding on meta moves no data)."""
    from torch.testing._internal.distributed.fake_pg import FakeStore

    arch = resolve_variant("llama-2-7b").architecture
    counts = []
    for rank in range(8):
        dist.init_process_group("fake", store=FakeStore(), rank=rank, world_size=8)
        try:
            model = build(arch, device="meta")
            shard(model, Sharding(8), device_mesh(Sharding(8), "cpu"))
            counts.append(local_parameter_count(model))
        finally:
            dist.destroy_process_group()
    assert sum(counts) == param_counts(arch).total == 6_738_415_616
    assert max(counts) - min(counts) < 8 * 4096 * 200  # every tensor split into 8 near-equal row blocks


def test_zoo_bench_nproc_stores_a_sharded_row(tmp_path, capsys):
    db = str(tmp_path / "catalog.sqlite")
    args = ["--db", db, "bench", "llama-2-7b", "--scale", "tiny", "--device", "cpu", "--mode", "train", "--nproc", "2",
            "--iters", "2", "--warmup", "1", "--json"]
    assert main(args) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["world_size"] == 2 and row["sharding"] == "fsdp" and row["details"]["tokens_per_step"] == 2 * 4 * 128
    assert sum(row["details"]["params_per_rank"]) == row["details"]["params_total"]
    assert main(["--db", db, "bench", "--stored", "llama-2-7b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["sharding"] == "fsdp"


@pytest.mark.parametrize("key, sharding, mode, message", [
    ("llama-2-7b", Sharding(4096), "train", "more ranks than this machine has CPU cores"),
    ("llama-3-8b", Sharding(2, tp=3), "train", "not a multiple of --tp 3"),
    ("llama-3-8b", Sharding(4, tp=4), "train", "does not divide the 2 KV heads"),
    ("mixtral-8x7b", Sharding(2, tp=2), "train", "expert parallelism"),
    ("bloom-176b", Sharding(2, tp=2), "train", "per-head bias"),
    ("llama-2-7b", Sharding(2), "decode", "decode with tensor parallelism alone"),
])
def test_shardings_that_cannot_run_are_refused_in_one_line(key, sharding, mode, message, monkeypatch):
    cores = 64 if sharding.world_size < 64 else 2
    monkeypatch.setattr("builder.distributed.sharding.available_devices", lambda device_type: cores)
    with pytest.raises(ShardingError, match=message) as error:
        check_sharding(scale(key, "tiny").architecture, sharding, "cpu", mode)
    assert "\n" not in str(error.value)


def test_a_refused_sharding_stores_nothing(tmp_path, capsys):
    db = str(tmp_path / "catalog.sqlite")
    assert main(["--db", db, "bench", "mixtral-8x7b", "--scale", "tiny", "--nproc", "2", "--tp", "2"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["--db", db, "bench", "--stored"]) == 1
