"""FSDP2, tensor parallelism and activation checkpointing, applied to a built Transformer from outside it.

The order is torchtitan's: tensor parallelism first (DTensor's `parallelize_module` on the mesh's "tp"
dimension: q/k/v and gate/up column-wise, o and down row-wise, so each rank holds heads / tp heads and
d_ff / tp hidden units and one all-reduce per sublayer joins them), then a checkpoint wrapper per block, then
`fully_shard` per block and on the root over the "dp" dimension (bf16 or fp16 compute with fp32 reduction
when asked, fp32 sharded parameters). Attention reshapes by head_dim, so it runs on whichever heads its rank
holds; embeddings, norms and the output head stay whole within a tensor-parallel group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.schema import Architecture, Position, QKNorm


class ShardingError(ZooError):
    """A sharding that cannot be applied as asked; one line for the user."""


@dataclass(frozen=True)
class Sharding:
    """How N ranks split a model: data-parallel FSDP2 groups of `tp` tensor-parallel ranks each."""

    world_size: int
    tp: int = 1
    checkpoint: bool = False

    @property
    def dp(self) -> int:
        return self.world_size // self.tp

    @property
    def name(self) -> str:
        """'fsdp', 'fsdp+tp2', 'tp2' (one data-parallel group), '+ckpt' with checkpointing; 'none' for one rank."""
        parts = (["fsdp"] if self.dp > 1 else []) + ([f"tp{self.tp}"] if self.tp > 1 else [])
        return "+".join(parts or ["none"]) + ("+ckpt" if self.checkpoint else "")


def available_devices(device_type: str) -> int:
    """How many ranks a machine can give one device each: GPUs on CUDA, cores on a CPU."""
    if device_type == "cuda":
        return torch.cuda.device_count()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_sharding(arch: Architecture, sharding: Sharding, device_type: str, mode: str) -> None:
    """Refuse, in one line, what the ranks, the devices or the architecture cannot do."""
    world, tp = sharding.world_size, sharding.tp
    if world < 1 or tp < 1:
        raise ShardingError(f"--nproc and --tp must be at least 1, got {world} and {tp}")
    devices = available_devices(device_type)
    unit = "GPUs" if device_type == "cuda" else "CPU cores"
    if world > devices:
        raise ShardingError(f"--nproc {world} asks for more ranks than this machine has {unit} ({devices})")
    if world % tp:
        raise ShardingError(f"--nproc {world} is not a multiple of --tp {tp}")
    if tp > 1:
        for name, count in (("attention heads", arch.n_heads), ("KV heads", arch.n_kv_heads), ("d_ff", arch.d_ff)):
            if count % tp:
                raise ShardingError(f"--tp {tp} does not divide the {count} {name}")
        if arch.moe is not None:
            raise ShardingError("--tp shards attention and dense MLPs; this record's experts would need expert "
                                "parallelism, which archzoo does not apply (use FSDP alone: --nproc without --tp)")
        if arch.position in (Position.alibi, Position.relative_bias, Position.xl_relative):
            raise ShardingError(f"--tp: {arch.position.value} positions add a per-head bias that is not split "
                                "over tensor-parallel ranks")
        if arch.qk_norm in (QKNorm.projection, QKNorm.head_unshared):
            raise ShardingError(f"--tp: qk_norm '{arch.qk_norm.value}' normalises across all heads at once, "
                                "which tensor parallelism would split")
    if mode == "decode" and sharding.dp > 1:
        raise ShardingError("decode over FSDP ranks would gather every layer's weights for each token, and the KV "
                            "cache cannot be split that way; decode with tensor parallelism alone (--tp equal to "
                            "--nproc)")


def device_mesh(sharding: Sharding, device_type: str):
    """A ("dp", "tp") mesh over every rank of the process group."""
    from torch.distributed.device_mesh import init_device_mesh

    return init_device_mesh(device_type, (sharding.dp, sharding.tp), mesh_dim_names=("dp", "tp"))


def _blocks(model) -> list[tuple[nn.ModuleList, int]]:
    stacks = [model.layers] + ([model.encoder_layers] if model.encoder_layers is not None else [])
    return [(stack, index) for stack in stacks for index in range(len(stack))]


def apply_tensor_parallel(model, mesh) -> None:
    """Column-wise q/k/v and gate/up, row-wise o and down, in every block (cross-attention included)."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    for stack, index in _blocks(model):
        block = stack[index]
        plan = {}
        for mixer in ("attention", "cross_attention"):
            if getattr(block, mixer) is not None:
                plan.update({f"{mixer}.{name}": ColwiseParallel() for name in ("q_proj", "k_proj", "v_proj")})
                plan[f"{mixer}.o_proj"] = RowwiseParallel()
        mlp = block.mlp
        if mlp.gate_proj is not None:
            plan["mlp.gate_proj"] = ColwiseParallel()
        plan["mlp.up_proj"] = ColwiseParallel()
        plan["mlp.down_proj"] = RowwiseParallel()
        parallelize_module(block, mesh, plan)


def apply_checkpointing(model) -> None:
    """Recompute each block's activations in its backward instead of keeping them (non-reentrant)."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointImpl, checkpoint_wrapper

    for stack, index in _blocks(model):
        stack[index] = checkpoint_wrapper(stack[index], checkpoint_impl=CheckpointImpl.NO_REENTRANT)


def apply_fsdp(model, mesh, compute_dtype: torch.dtype | None) -> None:
    """fully_shard every block, then the root (embeddings, final norm, head); parameters stay fp32 when a
    lower compute dtype is given, which FSDP2 casts to for each gathered block and reduces gradients in fp32."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy() if compute_dtype is None else MixedPrecisionPolicy(
        param_dtype=compute_dtype, reduce_dtype=torch.float32)
    for stack, index in _blocks(model):
        fully_shard(stack[index], mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)


def shard(model, sharding: Sharding, mesh, compute_dtype: torch.dtype | None = None) -> None:
    """Apply tensor parallelism, checkpointing and FSDP2 in that order (each only where asked)."""
    if sharding.tp > 1:
        apply_tensor_parallel(model, mesh["tp"])
    if sharding.checkpoint:
        apply_checkpointing(model)
    if sharding.dp > 1 or sharding.tp == 1:
        apply_fsdp(model, mesh["dp"], compute_dtype)


def local_parameter_count(model) -> int:
    """Elements of the parameters this rank holds (its shards of DTensors, whole plain tensors)."""
    from torch.distributed.tensor import DTensor

    return sum((p.to_local() if isinstance(p, DTensor) else p).numel() for p in model.parameters())


def build_sharded(arch: Architecture, sharding: Sharding, mesh, device: torch.device, dtype: torch.dtype,
                  compute_dtype: torch.dtype | None = None, seed: int | None = None, whole_first: bool = False):
    """A sharded model on this rank. whole_first: built from the seed on the device and then sharded (the
    weights of a one-process build); otherwise built on meta, sharded, then materialised shard by shard
    (`to_empty` and the modules' own init), so the rank never holds more than its shards."""
    from builder.construct import build

    if whole_first:
        model = build(arch, device=device, dtype=dtype, seed=seed)
        shard(model, sharding, mesh, compute_dtype)
        return model
    model = build(arch, device="meta", dtype=dtype)
    shard(model, sharding, mesh, compute_dtype)
    model.to_empty(device=device)
    model.init_weights(seed)
    return model
