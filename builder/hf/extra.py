"""The `hf` extra: transformers and safetensors are optional, and their absence is one line saying so."""

from __future__ import annotations

import importlib
from types import ModuleType

from zoo.errors import ZooError


class MissingExtraError(ZooError, ImportError):
    """An optional dependency of the Hugging Face interop that is not installed."""


def require(module: str) -> ModuleType:
    """The module, or MissingExtraError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{module} is not installed; Hugging Face interop needs the hf extra: "
                                "pip install 'archzoo[hf]'") from None
