"""The builder: every spec becomes a runnable PyTorch model, full size on meta or as a scaled proxy.

    from builder import build, scale
    model = build("llama-2-7b", device="meta")
    proxy = build(scale("gemma-2-27b", "tiny"), device="cpu", seed=0)

network/ holds the modules, hf/ the Hugging Face interop, bench/ the benchmarks; the per-layer plan,
parameter accounting, FLOP convention and scaling rule they all read are torch-free and live in zoo/.
"""

from builder.construct import ModelTooLargeError, build, describe
from builder.network.cache import KVCache
from builder.network.model import Transformer
from zoo.variants import Variant, scale

__all__ = ["KVCache", "ModelTooLargeError", "Transformer", "Variant", "build", "describe", "scale"]
