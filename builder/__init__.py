"""The builder: every spec becomes a runnable PyTorch model, full size on meta or as a scaled proxy.

    from builder import build, scale, param_counts
    model = build("llama-2-7b", device="meta")
    proxy = build(scale("gemma-2-27b", "tiny"), device="cpu", seed=0)

Importing this package is cheap: torch-dependent modules load on first use, because the catalog
imports `builder.accounting` (pure Python) when it builds its table.
"""

from __future__ import annotations

import importlib

from builder.accounting import ParamCounts, kv_cache_bytes_per_token, param_counts

_LAZY = {
    "build": "builder.construct",
    "resolve_spec": "builder.resolve",
    "describe": "builder.construct",
    "scale": "builder.scaling",
    "ScaledSpec": "builder.resolve",
    "PRESETS": "builder.scaling",
    "Transformer": "builder.model",
    "KVCache": "builder.model",
}

__all__ = ["ParamCounts", "param_counts", "kv_cache_bytes_per_token", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'builder' has no attribute '{name}'")
