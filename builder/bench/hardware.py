"""What a benchmark reads off the hardware: the device's dense peak FLOP/s for MFU, and peak memory.

MFU needs the device's dense (not sparse) tensor-core peak for the dtype. The table holds only figures
from the vendor's datasheets; a device or dtype it does not know gets no MFU rather than a wrong one, and
a CPU has no MFU at all (benchmarks report its achieved FLOP/s instead).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

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


def _rss_high_water_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise OSError("/proc/self/status has no VmHWM line")


def _max_rss_bytes() -> int:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


class PeakMemory:
    """Peak memory over a `with` block: max_memory_allocated on CUDA, the process's peak RSS on CPU.

    On Linux the RSS high-water mark is reset at entry (/proc/self/clear_refs), so the figure is this
    block's (scope 'block'); where that is impossible it is the process's peak so far (scope 'process').
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.bytes: int | None = None
        self.scope = "block"
        self._read = _rss_high_water_bytes

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.scope, self._read = "process", _max_rss_bytes
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device)
        else:
            self.bytes = self._read()
