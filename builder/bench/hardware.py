"""What a benchmark reads off the hardware: the device's dense peak FLOP/s for MFU, and peak memory from torch's
own accounting (CUDA's allocator statistics; on a CPU, tensor storage counted op by op).

MFU needs the device's dense (not sparse) tensor-core peak for the dtype. The table holds only figures
from the vendor's datasheets; a device or dtype it does not know gets no MFU rather than a wrong one, and
a CPU has no MFU at all (benchmarks report its achieved FLOP/s instead).
"""

from __future__ import annotations

import re

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

# (pattern on torch.cuda.get_device_name, dense peak FLOP/s for bf16 and fp16), NVIDIA datasheets.
# H100 SXM reports itself as "NVIDIA H100 80GB HBM3"; GH200 and H100 NVL are not listed, so they get no MFU.
PEAK_FLOPS = (
    (re.compile(r"\bH200\b"), {"bf16": 989e12, "fp16": 989e12}),
    (re.compile(r"\bH100\b.*(SXM|HBM3)"), {"bf16": 989e12, "fp16": 989e12}),
    (re.compile(r"\bH100\b.*\bPCIe\b"), {"bf16": 756e12, "fp16": 756e12}),
    (re.compile(r"\bA100\b"), {"bf16": 312e12, "fp16": 312e12}),
)


def peak_flops(name: str, dtype: str, device_type: str = "cuda") -> float | None:
    """Dense peak FLOP/s of a GPU for a dtype, or None when the table does not know the pair (and on CPU)."""
    if device_type != "cuda":
        return None
    for pattern, peaks in PEAK_FLOPS:
        if pattern.search(name):
            return peaks.get(dtype)
    return None


def mfu(achieved_flops_per_s: float, name: str, dtype: str, device_type: str) -> float | None:
    """Model FLOPs utilisation: achieved over peak, None where the peak is unknown."""
    peak = peak_flops(name, dtype, device_type)
    return None if peak is None else achieved_flops_per_s / peak


class CudaPeakMemory:
    """Peak bytes the CUDA caching allocator handed out over a `with` block (max_memory_allocated)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.bytes: int | None = None

    def __enter__(self) -> CudaPeakMemory:
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc) -> None:
        torch.cuda.synchronize(self.device)
        self.bytes = torch.cuda.max_memory_allocated(self.device)


class _TensorBytes(TorchDispatchMode):
    """Counts, op by op, the bytes of tensor storages a block creates that are still alive; keeps the peak."""

    def __init__(self, held: set[int]):
        super().__init__()
        self.held = held  # storages (by address) alive before the block: counted apart
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for address, (ref, size) in list(self.live.items()):
            if ref.expired():
                del self.live[address]
                self.current -= size
        for tensor in pytree.tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                address = storage.data_ptr()
                if address and address not in self.live and address not in self.held:
                    self.live[address] = (StorageWeakRef(storage), storage.nbytes())
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def _storages(tensors) -> dict[int, int]:
    return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors if t is not None}


def peak_tensor_bytes(step, held_tensors) -> int:
    """Peak bytes of tensor storage while `step()` runs: the storages of `held_tensors` (weights, gradients,
    optimizer state, cache), plus the most that the step's own tensors hold at any moment, counted op by op
    through a TorchDispatchMode. The CPU counterpart of CUDA's max_memory_allocated, without the allocator's
    caching or the process's other memory (which RSS would include)."""
    held = _storages(held_tensors)
    with _TensorBytes(set(held)) as counter:
        step()
    return sum(held.values()) + counter.peak
