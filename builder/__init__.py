"""The builder: every spec becomes a runnable PyTorch model, full size on meta or as a scaled proxy.

    from builder import build, scale
    model = build("llama-2-7b", device="meta")
    proxy = build(scale("gemma-2-27b", "tiny"), device="cpu", seed=0)

network/ holds the modules, hf/ the Hugging Face interop, bench/ the benchmarks; the per-layer plan,
parameter accounting, FLOP convention and scaling rule they all read are torch-free and live in zoo/.
Importing the package is cheap and torch loads on first use of a name below: the `zoo` command imports
builder.cli on every start to register its subcommands, and reading the catalog must not wait for torch.
"""

from builder.lazy import lazy_exports

_EXPORTS = {
    "build": "builder.construct",
    "describe": "builder.construct",
    "ModelTooLargeError": "builder.construct",
    "Transformer": "builder.network.model",
    "KVCache": "builder.network.cache",
    "Variant": "zoo.variants",
    "scale": "zoo.variants",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
