"""Hugging Face interop: transformers configs to and from specs, and checkpoints into built models.

    spec = spec_from_hf("config.json")            # or a dict, or a transformers PretrainedConfig
    config = hf_config_from_spec(record)          # a transformers config for a catalogued model
    load_hf_weights(model, state_dict_or_path)    # a state dict, a .safetensors file or a directory of shards

tables.py says, per transformers model type, which config keys hold which spec fields; weights.py, where each
of our parameters comes from in a checkpoint; config.py and loading.py walk them; cli.py is `zoo import-hf`.
transformers (the `hf` extra) is imported only where it is needed, and torch on first use of the loader (the
`zoo` command imports cli.py on every start).
"""

from builder.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("as_hf_config", "hf_config_from_spec", "hf_model", "hf_model_type", "read_hf_config",
                     "spec_from_hf"), "builder.hf.config"),
    **dict.fromkeys(("WeightLoadError", "load_hf_weights"), "builder.hf.loading"),
    "NotExpressible": "builder.hf.tables",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
