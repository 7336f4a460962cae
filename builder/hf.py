"""Hugging Face interop: transformers configs to and from specs, and checkpoints into built models.

    spec = spec_from_hf("config.json")            # or a dict, or a transformers PretrainedConfig
    config = hf_config_from_spec(record)          # a transformers config for a catalogued model
    load_hf_weights(model, state_dict_or_path)    # a state dict, a .safetensors file or a directory of shards

The per-type knowledge lives in tables (builder/hf_tables.py for configs, builder/hf_weights.py for parameter
names); this module only walks them. transformers is imported where it is needed, never at import time.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from builder.hf_tables import TYPE_ORDER, TYPES, Fixed, HFType, NotExpressible
from zoo.schema import ARCHITECTURE_FIELDS, Architecture, ModelRecord

__all__ = ["NotExpressible", "WeightLoadError", "as_hf_config", "hf_config_from_spec", "hf_model", "hf_model_type",
           "load_hf_weights", "read_hf_config", "spec_from_hf"]


def _codecs(hf_type: HFType) -> tuple:
    """The type's codecs plus one Fixed holding the schema default of every field they leave out."""
    covered = [name for codec in hf_type.codecs for name in codec.fields]
    repeated = sorted({name for name in covered if covered.count(name) > 1})
    if repeated:
        raise TypeError(f"hf table '{hf_type.model_type}' maps {repeated} more than once")
    left = {}
    for name in ARCHITECTURE_FIELDS:
        if name in covered:
            continue
        default = Architecture.model_fields[name].default
        if default is PydanticUndefined:
            raise TypeError(f"hf table '{hf_type.model_type}' does not map required field '{name}'")
        left[name] = default.value if hasattr(default, "value") else default
    return (*hf_type.codecs, Fixed(left))


def as_hf_config(config):
    """A transformers config from a config object, a config.json path (or its directory) or a parsed dict."""
    from transformers import CONFIG_MAPPING, PretrainedConfig

    if isinstance(config, (str, Path)):
        path = Path(config)
        path = path / "config.json" if path.is_dir() else path
        config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config, dict):
        model_type = config.get("model_type")
        if model_type not in CONFIG_MAPPING:
            raise NotExpressible(f"model_type {model_type!r} is not a transformers model type")
        config = CONFIG_MAPPING[model_type].from_dict(config)
    if not isinstance(config, PretrainedConfig):
        raise TypeError(f"expected a config.json path, a dict or a PretrainedConfig, got {type(config).__name__}")
    if config.model_type not in TYPES and config.get_text_config() is not config:
        config = config.get_text_config()  # a multimodal wrapper: the spec describes its language model
    if config.model_type not in TYPES:
        raise NotExpressible(f"model_type '{config.model_type}' has no table; known: {', '.join(sorted(TYPES))}")
    return config


def _read(hf_type: HFType, config) -> tuple[Architecture, dict[str, str]]:
    values, notes = {}, {}
    for codec in _codecs(hf_type):
        values.update(codec.read(config, notes))
    try:
        return Architecture.model_validate(values), notes
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise NotExpressible(f"{hf_type.model_type} config gives an invalid spec: {problems}") from None


def read_hf_config(config) -> tuple[str, Architecture, dict[str, str]]:
    """(model type, spec, {field: why its value is a placeholder}) for a config; see spec_from_hf."""
    config = as_hf_config(config)
    spec, notes = _read(TYPES[config.model_type], config)
    return config.model_type, spec, notes


def spec_from_hf(config) -> Architecture:
    """The Architecture a transformers config describes (config.json path or directory, dict, or PretrainedConfig).

    Raises NotExpressible naming the config value when the config uses something the schema cannot say.
    """
    return read_hf_config(config)[1]


def _architecture(spec) -> Architecture:
    if isinstance(spec, ModelRecord):
        return spec.architecture
    if isinstance(spec, Architecture):
        return spec
    if isinstance(spec, str):
        from zoo import Catalog

        return Catalog().get(spec).architecture
    raise TypeError(f"expected a catalog key, ModelRecord or Architecture, got {type(spec).__name__}")


def _differences(want: Architecture, got: Architecture) -> list[str]:
    want_values, got_values = want.model_dump(mode="json"), got.model_dump(mode="json")
    return [f"{name}={want_values[name]!r} (it says {got_values[name]!r})"
            for name in ARCHITECTURE_FIELDS if want_values[name] != got_values[name]]


@contextmanager
def _quiet_transformers():
    """Silence transformers' warnings about defaults (token ids, legacy names) while probing types."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _config_for(arch: Architecture, model_type: str):
    """Write the spec with one type's table, then read it back: anything that changed is not expressible."""
    from transformers import CONFIG_MAPPING

    hf_type = TYPES[model_type]
    values, kwargs = arch.model_dump(mode="json"), {}
    for codec in hf_type.codecs:
        kwargs.update(codec.write(values))
    try:
        with _quiet_transformers():
            config = CONFIG_MAPPING[model_type](**kwargs)
        back, _ = _read(hf_type, config)
    except NotExpressible as error:
        message = str(error)
        raise NotExpressible(message if message.startswith(model_type) else f"{model_type}: {message}") from None
    except Exception as error:  # transformers' own validation refuses the values
        raise NotExpressible(f"{model_type}: {str(error).splitlines()[0]}") from None
    differences = _differences(arch, back)
    if differences:
        raise NotExpressible(f"{model_type} cannot express {'; '.join(differences)}")
    return config


def hf_model_type(spec) -> str:
    """The first transformers model type (in TYPE_ORDER) whose config expresses the spec exactly."""
    arch, reasons = _architecture(spec), []
    for model_type in TYPE_ORDER:
        try:
            _config_for(arch, model_type)
        except NotExpressible as error:
            reasons.append(str(error))
            continue
        return model_type
    raise NotExpressible("no transformers model type expresses this spec:\n  " + "\n  ".join(reasons))


def hf_config_from_spec(spec, model_type: str | None = None):
    """A transformers config for a spec (catalog key, ModelRecord or Architecture).

    With no model_type, the first type in TYPE_ORDER that expresses every field is used; reading the result
    back with spec_from_hf gives the same Architecture.
    """
    arch = _architecture(spec)
    if model_type is None:
        model_type = hf_model_type(arch)
    if model_type not in TYPES:
        raise NotExpressible(f"model_type '{model_type}' has no table; known: {', '.join(sorted(TYPES))}")
    return _config_for(arch, model_type)


def hf_model(config, device: Any = "meta"):
    """transformers' own model for a config (the class in the type's table), built on `device`."""
    import torch
    import transformers

    config = as_hf_config(config)
    model_class = getattr(transformers, TYPES[config.model_type].model_class)
    with torch.device(device):
        return model_class(config)


class WeightLoadError(ValueError):
    """A checkpoint that does not fit the model: every missing, unexpected or misshapen tensor, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("checkpoint does not fit the model:\n  " + "\n  ".join(problems))


class _Checkpoint:
    """Tensors by name from a state dict, a .safetensors file or a directory of shards, read one at a time.

    Safetensors files are memory-mapped (safe_open) and each tensor is read only when it is copied, so a
    checkpoint is never held in memory beside the model. The last tensor read is kept, because a fused
    q/k/v or gate/up tensor feeds several of our parameters in a row.
    """

    def __init__(self, checkpoint):
        self._files, self._state = {}, None
        if isinstance(checkpoint, dict):
            self._state = checkpoint
            self.names = set(checkpoint)
        else:
            self.names = set(self._index(Path(checkpoint)))
        self._last = (None, None)

    def _index(self, path: Path) -> dict:
        from safetensors import safe_open

        if path.is_dir():
            index = path / "model.safetensors.index.json"
            if index.is_file():
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
                files = {name: path / shard for name, shard in weight_map.items()}
            else:
                shards = sorted(path.glob("*.safetensors"))
                if not shards:
                    raise FileNotFoundError(f"{path}: no *.safetensors files (other checkpoint formats are not read)")
                files = {}
                for shard in shards:
                    with safe_open(shard, framework="pt") as handle:
                        files.update(dict.fromkeys(handle.keys(), shard))
        elif path.is_file():
            with safe_open(path, framework="pt") as handle:
                files = dict.fromkeys(handle.keys(), path)
        else:
            raise FileNotFoundError(f"{path}: no such checkpoint file or directory")
        self._shards = files
        return files

    def get(self, name: str):
        if self._last[0] == name:
            return self._last[1]
        if self._state is not None:
            tensor = self._state[name]
        else:
            from safetensors import safe_open

            shard = self._shards[name]
            if shard not in self._files:
                self._files[shard] = safe_open(shard, framework="pt")
            tensor = self._files[shard].get_tensor(name)
        self._last = (name, tensor)
        return tensor


def _weight_rules(model_type: str) -> list:
    """(compiled pattern of our name, Source) for one type's table."""
    import re

    from builder.hf_weights import WEIGHTS

    return [(re.compile(re.escape(ours).replace(r"\{i\}", r"(?P<i>\d+)")), source)
            for ours, source in WEIGHTS[model_type].items()]


def load_hf_weights(model, checkpoint, model_type: str | None = None) -> None:
    """Copy a transformers checkpoint into a built model (on a real device), converting each tensor's layout.

    `checkpoint`: a state dict, a .safetensors file, or a directory of shards (with or without an index).
    `model_type` defaults to the transformers type that expresses the model's spec. Before copying anything,
    every parameter must have its tensor and every tensor a parameter (tied copies and saved buffers aside);
    otherwise WeightLoadError lists them all. A tensor whose converted shape differs is reported the same way.
    """
    import torch

    from builder.hf_weights import ALIASES, BUFFER_SUFFIXES, LAYOUTS, TIED_HEAD_NAMES

    spec = model.spec
    model_type = model_type or hf_model_type(spec)
    source_tensors = _Checkpoint(checkpoint)
    rules = _weight_rules(model_type)
    plans, problems, used = [], [], set()
    for name, parameter in model.named_parameters():
        if parameter.is_meta:
            raise ValueError("the model is on the meta device: build it on a real device before loading weights")
        match = next(((m, source) for pattern, source in rules if (m := pattern.fullmatch(name))), None)
        if match is None:
            problems.append(f"missing: {name} (the {model_type} table has no source for it)")
            continue
        found, source = match
        candidates = [n.format(**found.groupdict()) for n in source.names]
        present = next((n for n in candidates if n in source_tensors.names), None)
        if present is None:
            problems.append(f"missing: {name} <- {' or '.join(candidates)}")
            continue
        used.add(present)
        plans.append((name, parameter, present, source))
    ignored = set(ALIASES.get(model_type, ())) | (set(TIED_HEAD_NAMES[model_type]) if spec.tied_embeddings else set())
    unexpected = sorted(n for n in source_tensors.names - used - ignored if not n.endswith(BUFFER_SUFFIXES))
    problems += [f"unexpected: {n}" for n in unexpected]
    if problems:
        raise WeightLoadError(problems)
    with torch.no_grad():
        for name, parameter, present, source in plans:
            tensor = LAYOUTS[source.layout](source_tensors.get(present), source.part, spec)
            if tensor.shape != parameter.shape:
                problems.append(f"shape: {name} {tuple(parameter.shape)} <- {present} gives {tuple(tensor.shape)}")
                continue
            parameter.copy_(tensor)
    if problems:
        raise WeightLoadError(problems)
