"""build(): a spec to a model on meta, CPU or CUDA, refusing sizes that cannot fit before allocating.

Named construct.py, not build.py: a submodule called `build` would shadow the `builder.build` function.
"""

from __future__ import annotations

import torch

from builder.devices import available_bytes, resolve_device, resolve_dtype
from builder.network.model import Transformer
from zoo.accounting import kv_cache_bytes_per_token, param_counts
from zoo.errors import ZooError
from zoo.schema import Architecture, ModelRecord
from zoo.variants import Variant, resolve_variant


class ModelTooLargeError(ZooError, MemoryError):
    """The estimated parameter bytes exceed the memory available on the target device."""


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"


def build(
    spec: str | ModelRecord | Architecture | Variant,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | str | None = None,
    seed: int | None = None,
    attention_backend: str = "auto",
) -> Transformer:
    """Construct on meta (instant at any size); for a real device, check memory, materialise and init.

    `spec`: a key or variant text ('llama-2-7b:norm_position=post'), a record, an architecture or a Variant;
    `device` and `dtype` are checked before anything is built (DeviceError in one line otherwise).
    """
    variant = resolve_variant(spec)
    arch, source = variant.architecture, variant.name
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    if device.type != "meta":
        total = param_counts(arch).total
        needed, free = total * dtype.itemsize, available_bytes(device)
        if needed > free:
            raise ModelTooLargeError(
                f"{source or 'model'} needs about {_gib(needed)} for {total:,} parameters in {dtype} "
                f"but only {_gib(free)} is available on {device}"
            )
    with torch.device("meta"):
        model = Transformer(arch, source=source)
    model.to(dtype)
    model.set_attention_backend(attention_backend)
    if device.type != "meta":
        model.to_empty(device=device)
        model.init_weights(seed)
    return model


def describe(model: Transformer) -> str:
    """A short module tree (top-level modules, one line per distinct layer kind) with counts."""
    arch = model.spec
    counts = param_counts(arch)
    lines = [f"{model.source or 'model'}: {arch.arch.value}, {len(model.layers)} layers, d_model {arch.d_model}"]
    for name, child in model.named_children():
        if isinstance(child, torch.nn.ModuleList):
            kinds: dict[str, int] = {}
            for block in child:
                plan = block.plan
                kind = f"{plan.kind} attention, {plan.position.value} positions, {'MoE' if plan.moe else 'dense'} MLP"
                kinds[kind] = kinds.get(kind, 0) + 1
            for kind, number in kinds.items():
                lines.append(f"  {name}: {number} x Block({kind})")
        elif not isinstance(child, torch.nn.Dropout):
            size = sum(p.numel() for p in child.parameters())
            lines.append(f"  {name}: {type(child).__name__} ({size:,} parameters)")
    lines += [
        f"parameters: total {counts.total:,}, active {counts.active:,}, "
        f"embedding {counts.embedding:,}, non-embedding {counts.non_embedding:,}",
        f"KV cache: {kv_cache_bytes_per_token(arch):,} bytes per token (16-bit)",
    ]
    return "\n".join(lines)
