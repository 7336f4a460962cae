"""How much memory one rank needs to train or serve an architecture, and how many GPUs it takes.

Pure arithmetic on an Architecture (no torch). Each figure says how it was obtained:

- exact: parameter bytes are the builder's parameter count (zoo.accounting) times bytes per element, divided
  over the shards. FSDP2 shards every parameter over all ranks (data-parallel x tensor-parallel), padding its
  first dimension to a multiple of the shard count, so a rank may hold up to shards - 1 more rows of a tensor
  than this even split; KV-cache bytes follow the builder's cache (a local layer keeps window - 1 tokens).
- estimate: activations, from the tensors a block keeps for its backward (formula below), and the
  transient unsharded weights of the blocks FSDP2 gathers at once.

Training keeps fp32 master weights, fp32 gradients and AdamW's two fp32 moments whatever the compute dtype
(FSDP2's mixed-precision policy casts to bf16 or fp16 only for compute): 16 bytes per parameter, sharded.
Inference keeps the weights in the compute dtype.

Activations per token per layer, in the compute dtype, for a pre-norm block without sequence parallelism
(q, k, v, the attention output and the MLP's hidden tensors are split over tensor-parallel ranks; the
d_model-wide norm inputs and outputs are not):
    attention: 2 d_model (norm input, output) + q + k + v + attention output (= o_proj input)
    dense MLP: 2 d_model + 4 d_ff gated (gate, up, activation, product) or 2 d_ff plain
    MoE MLP:   2 d_model + k (d_model + 4 expert_d_ff) for the routed copies, plus the shared experts' MLP
With activation checkpointing a layer keeps only its input (d_model per token) and one layer at a time is
recomputed in full. The output head adds fp32 logits and their gradient (8 bytes x vocab per token).
Attention scores are not stored (fused attention keeps a logsumexp per head, counted as 4 bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoo.accounting import layer_params, param_counts
from zoo.errors import ZooError
from zoo.plan import plan_model
from zoo.schema import Arch, Architecture

GIB = 2**30
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
MODES = ("train", "infer")
TRAIN_BYTES_PER_PARAM = 4 + 4 + 8  # fp32 master weight, fp32 gradient, AdamW's two fp32 moments

# Memory per GPU as its datasheet states it (GiB); what a program can allocate is somewhat less (the
# CUDA context and the allocator's fragmentation take a few hundred MiB to a few GiB).
GPUS = {
    "a100-40gb": 40, "a100-80gb": 80, "h100": 80, "h200": 141, "b200": 180, "gb200": 186,
    "l4": 24, "l40s": 48, "a10g": 24, "rtx4090": 24, "mi250x": 128, "mi300x": 192, "mi325x": 256,
}


class MemoryPlanError(ZooError):
    """A memory question that cannot be answered as asked; one line for the user."""


@dataclass(frozen=True)
class MemoryQuestion:
    """What to size: the mode, compute dtype, GPUs and tensor-parallel degree, the per-rank batch and sequence."""

    mode: str = "train"
    dtype: str = "bf16"
    gpus: int = 1
    tp: int = 1
    batch: int = 1  # sequences per data-parallel rank
    seq: int | None = None  # default: the architecture's context length
    checkpoint: bool = False  # activation checkpointing per block (train)


@dataclass(frozen=True)
class Part:
    name: str
    bytes: int
    basis: str  # "exact" or "estimate"
    how: str


@dataclass(frozen=True)
class MemoryPlan:
    question: MemoryQuestion
    seq: int
    params: int
    parts: tuple[Part, ...]

    @property
    def total(self) -> int:
        return sum(part.bytes for part in self.parts)

    def fits(self, gpu: str) -> bool:
        return self.total <= GPUS[gpu] * GIB


def _check(arch: Architecture, question: MemoryQuestion) -> int:
    if question.mode not in MODES:
        raise MemoryPlanError(f"unknown mode '{question.mode}'; accepted: {', '.join(MODES)}")
    if question.dtype not in DTYPE_BYTES:
        raise MemoryPlanError(f"unknown dtype '{question.dtype}'; accepted: {', '.join(DTYPE_BYTES)}")
    for name in ("gpus", "tp", "batch"):
        if getattr(question, name) < 1:
            raise MemoryPlanError(f"--{name} must be at least 1, got {getattr(question, name)}")
    if question.gpus % question.tp:
        raise MemoryPlanError(f"--gpus {question.gpus} is not a multiple of --tp {question.tp}")
    if arch.n_heads % question.tp:
        raise MemoryPlanError(f"--tp {question.tp} does not divide the {arch.n_heads} attention heads")
    seq = arch.context_length if question.seq is None else question.seq
    if seq < 1:
        raise MemoryPlanError(f"--seq must be at least 1, got {seq}")
    return seq


def _activation_elements_per_token(arch: Architecture, tp: int) -> tuple[int, int]:
    """(the largest layer's kept elements per token, the sum over layers), on one tensor-parallel rank."""
    plan = plan_model(arch)
    d = arch.d_model
    q = arch.n_heads * arch.head_dim // tp
    kv = arch.n_kv_heads * arch.head_dim // max(1, min(tp, arch.n_kv_heads))
    per_layer = []
    for layer in plan.layers:
        attention = 2 * d + 2 * q + 2 * kv + 2 * arch.n_heads // tp  # logsumexp: fp32 = 2 elements of 16 bits
        if layer.cross_attention is not None:
            attention += 2 * d + 2 * q  # the source's keys and values belong to the encoder's output
        hidden = 4 if arch.gated_mlp else 2
        if layer.moe:
            moe = arch.moe
            mlp = 2 * d + moe.experts_per_token * (d + hidden * moe.expert_d_ff // tp)
            mlp += hidden * moe.n_shared_experts * moe.expert_d_ff // tp
        else:
            mlp = 2 * d + hidden * arch.d_ff // tp
        per_layer.append(attention + mlp)
    return max(per_layer), sum(per_layer)


def _kv_cache_bytes(arch: Architecture, question: MemoryQuestion, seq: int) -> int:
    """Keys and values of every self-attention layer (and cross-attention to a source of `seq` tokens) for the
    per-rank batch; KV heads split over tensor-parallel ranks (replicated where there are fewer than ranks)."""
    plan = plan_model(arch)
    if arch.mla is not None:  # one latent and one RoPE key per token, which every tensor-parallel rank keeps
        per_token = arch.mla.kv_lora_rank + arch.mla.qk_rope_head_dim
    else:
        per_token = 2 * arch.n_kv_heads * arch.head_dim // max(1, min(question.tp, arch.n_kv_heads))
    elements = 0
    for layer in plan.decoder:
        held = seq if layer.local is None else min(seq, max(layer.window - 1, 1))
        elements += held * per_token
        if layer.cross_attention is not None:
            elements += seq * per_token
    return elements * question.batch * DTYPE_BYTES[question.dtype]


def plan_memory(arch: Architecture, question: MemoryQuestion = MemoryQuestion()) -> MemoryPlan:
    """Per-rank bytes, part by part, for `question` on `arch`."""
    seq = _check(arch, question)
    params = param_counts(arch).total
    shards = question.gpus
    width = DTYPE_BYTES[question.dtype]
    tokens = question.batch * seq
    even = f"{params:,} parameters / {shards} shard{'s' if shards > 1 else ''}"
    parts = []
    if question.mode == "train":
        parts += [
            Part("weights", math.ceil(params / shards) * 4, "exact", f"{even} x 4 bytes (fp32 master weights)"),
            Part("gradients", math.ceil(params / shards) * 4, "exact", f"{even} x 4 bytes (fp32)"),
            Part("optimizer", math.ceil(params / shards) * 8, "exact", f"{even} x 8 bytes (AdamW's two fp32 moments)"),
        ]
        largest, summed = _activation_elements_per_token(arch, question.tp)
        if question.checkpoint:
            kept = arch.d_model * len(plan_model(arch).layers) + largest
            how = "checkpointed: each layer's input, plus one layer recomputed"
        else:
            kept = summed
            how = "each layer's saved tensors (see zoo/memory.py)"
        logits = tokens * arch.vocab_size * 8
        parts.append(Part("activations", tokens * kept * width + logits, "estimate",
                          f"{tokens:,} tokens x {kept:,} elements x {width} bytes ({how}) + fp32 logits and "
                          "their gradient"))
        if shards > 1:
            gathered = _largest_layer_params(arch) // question.tp * width * 2
            parts.append(Part("gathered weights", gathered, "estimate",
                              "two layers' weights unsharded at once in the compute dtype (FSDP2 prefetch)"))
    else:
        parts.append(Part("weights", math.ceil(params / shards) * width, "exact", f"{even} x {width} bytes"))
        if arch.arch is not Arch.encoder:
            parts.append(Part("kv cache", _kv_cache_bytes(arch, question, seq), "exact",
                              f"batch {question.batch} x {seq:,} tokens, every self-attention layer (local ones keep "
                              f"their window)"))
        logits = question.batch * arch.vocab_size * 4
        parts.append(Part("logits", logits, "estimate", "one step's fp32 logits for the last position"))
    return MemoryPlan(question, seq, params, tuple(parts))


def _largest_layer_params(arch: Architecture) -> int:
    """Parameters of the biggest layer (what FSDP2 gathers for one block), from the per-layer accounting."""
    return max(layer_params(arch, layer)[0] for layer in plan_model(arch).layers)


def fewest_gpus(arch: Architecture, question: MemoryQuestion, gpu: str, limit: int = 4096) -> int | None:
    """The fewest GPUs of a kind (a multiple of the tensor-parallel degree) on which every rank fits, or None."""
    if gpu not in GPUS:
        raise MemoryPlanError(f"unknown GPU '{gpu}'; known: {', '.join(GPUS)}")

    def fits(groups: int) -> bool:  # per-rank bytes only fall as ranks are added: bisect over multiples of tp
        return plan_memory(arch, _with(question, gpus=groups * question.tp)).fits(gpu)

    low, high = 1, limit // question.tp
    if high < 1 or not fits(high):
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(middle) else (middle + 1, high)
    return low * question.tp


def _with(question: MemoryQuestion, **changes) -> MemoryQuestion:
    return MemoryQuestion(**{**question.__dict__, **changes})
