"""Turn what a user passes (a key, a record, an architecture or a scaled proxy) into an Architecture.

Pure Python: keys resolve to specs/KEY.toml through zoo.specfile.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from zoo.schema import Architecture, ModelRecord
from zoo.specfile import load_spec, spec_paths, specs_dir


@dataclass(frozen=True)
class ScaledSpec:
    """A proxy architecture shrunk from a catalogued record by `builder.scale`."""

    source: str | None  # key of the record it came from (None for a bare architecture)
    target: str | int  # the preset name or the parameter target it was scaled to
    architecture: Architecture

    @property
    def key(self) -> str:
        return f"{self.source or 'architecture'}@{self.target}"


class UnknownSpecError(LookupError):
    """A key that names no spec file; the message lists close and accepted keys."""


def known_keys() -> list[str]:
    return [path.stem for path in spec_paths()]


def load_record(key: str) -> ModelRecord:
    """The record of a catalogued key, or UnknownSpecError naming close matches and the accepted keys."""
    path = specs_dir() / f"{key}.toml"
    if not path.is_file():
        keys = known_keys()
        close = difflib.get_close_matches(key, keys, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownSpecError(f"unknown model key '{key}'{hint} (accepted: {', '.join(keys)})")
    return load_spec(path)


def resolve_spec(spec: str | ModelRecord | Architecture | ScaledSpec) -> tuple[Architecture, str | None]:
    """(architecture, source name) of anything `build` and `scale` accept."""
    if isinstance(spec, str):
        return load_record(spec).architecture, spec
    if isinstance(spec, ModelRecord):
        return spec.architecture, spec.key
    if isinstance(spec, ScaledSpec):
        return spec.architecture, spec.key
    if isinstance(spec, Architecture):
        return spec, None
    raise TypeError(f"expected a model key, ModelRecord, Architecture or ScaledSpec, got {type(spec).__name__}")
