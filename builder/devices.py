"""Devices a model is built or timed on: checking a requested device, naming it, its free memory."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from zoo.errors import ZooError, printable

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceError(ZooError):
    """A device that does not exist here or that models cannot be built on."""


def resolve_device(name: str | torch.device) -> torch.device:
    """A torch.device for 'meta', 'cpu', 'cuda' or 'cuda:N', checked to exist on this machine (the one check
    that build and bench both make, before any work)."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise DeviceError(f"unknown device '{printable(str(name))}'; accepted: meta, cpu, cuda, cuda:N") from None
    if device.type in ("cpu", "meta"):
        return device
    if device.type != "cuda":
        raise DeviceError(f"device '{name}' is not supported; accepted: meta, cpu, cuda, cuda:N")
    if not torch.cuda.is_available():
        raise DeviceError(f"device '{name}' requested but CUDA is not available here (torch {torch.__version__})")
    index = 0 if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device '{name}' does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", index)


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """A floating dtype to build in: a torch dtype, or fp32 / bf16 / fp16 (None: torch's default)."""
    if dtype is None:
        return torch.get_default_dtype()
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    raise DeviceError(f"a model is built in fp32, bf16 or fp16 (or the torch dtypes float32, bfloat16, float16), "
                      f"not {printable(str(dtype))}")


def device_name(device: torch.device) -> str:
    """The GPU's marketing name, or the CPU's model name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def available_bytes(device: torch.device) -> int:
    """Free memory on the device: MemAvailable for CPU, the CUDA allocator's free bytes for a GPU."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
