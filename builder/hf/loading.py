"""Checkpoints into built models: transformers tensors, renamed and re-laid-out per model type (weights.py).

    load_hf_weights(model, state_dict_or_path)    # a state dict, a .safetensors file or a directory of shards
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from builder.hf.config import hf_model_type
from builder.hf.extra import require
from builder.hf.weights import ALIASES, BUFFER_SUFFIXES, LAYOUTS, TIED_HEAD_NAMES, WEIGHTS
from zoo.errors import ZooError


class WeightLoadError(ZooError, ValueError):
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
        safe_open = require("safetensors").safe_open
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
            safe_open = require("safetensors").safe_open
            shard = self._shards[name]
            if shard not in self._files:
                self._files[shard] = safe_open(shard, framework="pt")
            tensor = self._files[shard].get_tensor(name)
        self._last = (name, tensor)
        return tensor


def _weight_rules(model_type: str) -> list:
    """(compiled pattern of our name, Source) for one type's table."""
    return [(re.compile(re.escape(ours).replace(r"\{i\}", r"(?P<i>\d+)")), source)
            for ours, source in WEIGHTS[model_type].items()]


def _loadable(model):
    """(name, tensor) of every parameter and every persistent buffer (DeepSeek-V3's selection bias): what a
    checkpoint fills."""
    yield from model.named_parameters()
    for module_name, module in model.named_modules():
        for name, buffer in module.named_buffers(recurse=False):
            if name not in module._non_persistent_buffers_set:
                yield (f"{module_name}.{name}" if module_name else name), buffer


def load_hf_weights(model, checkpoint, model_type: str | None = None) -> None:
    """Copy a transformers checkpoint into a built model (on a real device), converting each tensor's layout.

    `checkpoint`: a state dict, a .safetensors file, or a directory of shards (with or without an index).
    `model_type` defaults to the transformers type that expresses the model's spec. Before copying anything,
    every parameter must have its tensor and every tensor a parameter (tied copies and saved buffers aside);
    otherwise WeightLoadError lists them all. A tensor whose converted shape differs is reported the same way.
    """
    spec = model.spec
    model_type = model_type or hf_model_type(spec)
    source_tensors = _Checkpoint(checkpoint)
    rules = _weight_rules(model_type)
    plans, problems, used = [], [], set()
    for name, parameter in _loadable(model):
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
