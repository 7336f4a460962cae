"""transformers configs to and from specs: read a config.json (or config object) into an Architecture, and
write a spec as the config of the first transformers model type that expresses it exactly.

The per-type knowledge lives in tables.py; this module only walks them. transformers is imported where it is
needed, never at import time.
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from builder.hf.extra import require
from builder.hf.tables import NEAREST, RENAMED, TYPE_ORDER, TYPES, Fixed, HFType, NotExpressible
from zoo.errors import ZooError, did_you_mean
from zoo.schema import ARCHITECTURE_FIELDS, Architecture, ModelRecord
from zoo.variants import Variant, resolve_variant


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


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ConfigNotFound(ZooError, FileNotFoundError):
    """A config source that is neither a file here nor a Hub id in the local Hugging Face cache."""


def config_file(source: str | Path) -> Path:
    """The config.json a source names: a file, a folder holding one, or a Hub id (`org/name`) read from the
    local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), never the
    network."""
    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file() or not HUB_ID.fullmatch(str(source)):
        if not path.is_file():
            raise ConfigNotFound(f"{path}: no such config file")
        return path
    hub = require("huggingface_hub")
    cached = hub.try_to_load_from_cache(str(source), "config.json")
    if isinstance(cached, str):
        return Path(cached)
    raise ConfigNotFound(f"{source}: not a file here, and the local Hugging Face cache ({hub.constants.HF_HUB_CACHE}) "
                         f"holds no config.json for it; fetch it once (huggingface-cli download {source} config.json) "
                         "or pass the file")


def as_hf_config(config):
    """A transformers config from a config object, a parsed dict, or what `config_file` finds for a path or a
    Hub id."""
    transformers = require("transformers")
    CONFIG_MAPPING, PretrainedConfig = transformers.CONFIG_MAPPING, transformers.PretrainedConfig

    if isinstance(config, (str, Path)):
        config = json.loads(config_file(config).read_text(encoding="utf-8"))
    if isinstance(config, dict):
        config = _as_built_in(config, CONFIG_MAPPING)
        model_type = config.get("model_type")
        if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
            raise NotExpressible(_not_built_in(model_type, config))
        try:
            with _quiet_transformers():
                config = CONFIG_MAPPING[model_type].from_dict(config)
        except Exception as error:  # transformers' own validation refuses the values
            raise NotExpressible(f"{model_type}: transformers refuses this config: {' '.join(str(error).split())[:240]}") from None
    if not isinstance(config, PretrainedConfig):
        raise TypeError(f"expected a config.json path, a dict or a PretrainedConfig, got {type(config).__name__}")
    if config.model_type not in TYPES and config.get_text_config() is not config:
        config = config.get_text_config()  # a multimodal wrapper: the spec describes its language model
    if config.model_type not in TYPES:
        raise NotExpressible(unsupported_type(config.model_type))
    return config


def _as_built_in(config: dict, known_types) -> dict:
    """A remote-code config (an `auto_map`, a model_type transformers lacks) whose `architectures` names the
    class of a supported type is that type's config: Kimi K2 publishes `kimi_k2` built by DeepseekV3ForCausalLM."""
    model_type, classes = config.get("model_type"), config.get("architectures")
    if not isinstance(model_type, str) or model_type in known_types or "auto_map" not in config \
            or not isinstance(classes, list):
        return config
    built_by = [hf_type.model_type for hf_type in TYPES.values() if hf_type.model_class in classes]
    return {**config, "model_type": built_by[0]} if len(built_by) == 1 else config


def _not_built_in(model_type, config: dict) -> str:
    """One line for a model_type transformers lacks: what the config says it is, and what would import."""
    line = f"model_type {model_type!r} is not a transformers model type"
    if isinstance(model_type, str) and model_type in RENAMED:
        return f"{line}: it is {RENAMED[model_type]}"
    if "auto_map" in config:
        classes = ", ".join(map(str, config.get("architectures") or ())) or "its auto_map classes"
        return f"{line}: the config is remote code ({classes}) with no built-in class that a supported type uses"
    return line


def unsupported_type(model_type: str) -> str:
    """One line for a transformers type without a table: the nearest supported type and what differs, or the
    closest name."""
    if model_type in NEAREST:
        nearest, lacks = NEAREST[model_type]
        return f"{model_type}: not supported; the nearest supported type is {nearest}, which lacks {lacks}"
    return f"{model_type}: not supported{did_you_mean(model_type, TYPES, cutoff=0.8)}; supported: {', '.join(sorted(TYPES))}"


def _read(hf_type: HFType, config) -> tuple[Architecture, dict[str, str]]:
    values, notes = {}, {}
    for codec in _codecs(hf_type):
        try:
            values.update(codec.read(config, notes))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, ZeroDivisionError) as error:
            if isinstance(error, NotExpressible):  # every refusal names the type it was read as
                message = str(error)
                if message.startswith(f"{hf_type.model_type}: "):
                    raise
                raise NotExpressible(f"{hf_type.model_type}: {message}") from None
            fields = ", ".join(codec.fields)
            raise NotExpressible(f"{hf_type.model_type}: the config's value for {fields} cannot be read "
                                 f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None
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


def _architecture(spec: str | ModelRecord | Architecture | Variant) -> Architecture:
    return resolve_variant(spec).architecture


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


def _drop_token_ids_outside_the_vocabulary(config, vocab_size: int) -> None:
    """Special-token ids are a tokenizer's, not the architecture's: a config class's default ids (Phi-3's pad
    32000, GLM-4's 151329) that a smaller vocabulary cannot hold are cleared rather than left to index nothing."""
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value >= vocab_size:
            setattr(config, name, None)
        elif isinstance(value, list) and any(i >= vocab_size for i in value):
            setattr(config, name, [i for i in value if i < vocab_size] or None)


def _config_for(arch: Architecture, model_type: str):
    """Write the spec with one type's table, then read it back: anything that changed is not expressible."""
    CONFIG_MAPPING = require("transformers").CONFIG_MAPPING

    hf_type = TYPES[model_type]
    values, kwargs = arch.model_dump(mode="json"), {}
    for codec in hf_type.codecs:
        kwargs.update(codec.write(values))
    try:
        with _quiet_transformers():
            config = CONFIG_MAPPING[model_type](**kwargs)
        _drop_token_ids_outside_the_vocabulary(config, arch.vocab_size)
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
        raise NotExpressible(unsupported_type(model_type))
    return _config_for(arch, model_type)


def hf_model(config, device: Any = "meta"):
    """transformers' own model for a config (the class in the type's table), built on `device`."""
    import torch

    transformers = require("transformers")
    config = as_hf_config(config)
    model_class = getattr(transformers, TYPES[config.model_type].model_class)
    with torch.device(device):
        return model_class(config)
