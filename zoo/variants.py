"""What to build: a catalogued record, optionally with one-field counterfactuals, optionally scaled to a proxy.

    "llama-2-7b"                                  the record as catalogued
    "llama-2-7b:norm_position=post"               one field changed
    "mixtral-8x7b:moe.experts_per_token=1,dropout=0.1"   several, nested fields by dotted name
    "path/to/my-model.toml"                       a spec file outside specs/, named explicitly as a path

`resolve_variant` turns whatever a user hands to build, scale, bench or the Hugging Face code (a key or variant
text, a ModelRecord, an Architecture, a Variant) into one `Variant`: the record's key, the overrides, the scale
and the validated architecture they give. Overrides apply to the full-size architecture and the result is
validated by the schema, so an override that breaks a cross-field rule is refused with the schema's own
sentence; a scale then shrinks the counterfactual exactly as it shrinks the original, keeping the changed
choice. A key is a slug that names a file in the bundled specs/ (zoo.specfile); a file elsewhere is read
only when it is given as a path ending in .toml, and its variant carries that record's own key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from zoo.errors import ZooError, did_you_mean, printable
from zoo.scaling import proxy_architecture
from zoo.schema import ARCHITECTURE_FIELDS, KEY_PATTERN, NESTED_FIELDS, Architecture, ModelRecord
from zoo.specfile import load_spec, spec_paths, specs_dir


class VariantError(ZooError, ValueError):
    """A variant that names no record or field, whose overrides make the spec invalid, or that cannot be scaled."""


class UnknownSpecError(VariantError, LookupError):
    """A key that names no spec file; the message lists close and accepted keys."""


@dataclass(frozen=True)
class Variant:
    """An architecture to build, and where it came from."""

    key: str | None  # the catalogued record it comes from; None for an architecture given directly
    architecture: Architecture
    overrides: dict[str, object] = field(default_factory=dict)
    scale: str | int | None = None  # the preset or parameter target it was shrunk to; None at full size

    @property
    def label(self) -> str:
        """'scale=tiny, norm_position=post' (empty for the record as catalogued, full size)."""
        parts = [] if self.scale is None else [f"scale={self.scale}"]
        parts += [f"{name}={_show(value)}" for name, value in self.overrides.items()]
        return ", ".join(parts)

    @property
    def name(self) -> str | None:
        """The variant as typed on the command line, scale appended: 'llama-2-7b:norm_position=post@tiny'
        ('architecture@tiny' for a scaled bare architecture; None for one given directly at full size)."""
        if self.key is None and self.scale is None:
            return None
        text = self.key or "architecture"
        if self.overrides:
            text += ":" + ",".join(f"{name}={_show(value)}" for name, value in self.overrides.items())
        return text + (f"@{self.scale}" if self.scale is not None else "")


def _show(value) -> str:
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def _parse_value(text: str):
    """JSON where the text is JSON (numbers, true/false, null), the plain string otherwise (enum values)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def known_keys() -> list[str]:
    return [path.stem for path in spec_paths()]


def load_record(key: str) -> ModelRecord:
    """The record of a catalogued key (or of a spec file given as a path ending in .toml), or
    UnknownSpecError naming close matches and the accepted keys."""
    if key.endswith(".toml"):
        return load_spec(key)
    if not re.fullmatch(KEY_PATTERN, key):
        raise UnknownSpecError(f"'{printable(key)}' is not a model key (lowercase letters, digits, '.', '_' and '-'; "
                               "a spec file elsewhere is given as a path ending in .toml)")
    path = specs_dir() / f"{key}.toml"
    if not path.is_file():
        keys = known_keys()
        raise UnknownSpecError(f"unknown model key '{key}'{did_you_mean(key, keys)} (accepted: {', '.join(keys)})")
    return load_spec(path)


def parse_variant(text: str) -> tuple[str, dict[str, object]]:
    """'KEY[:FIELD=VALUE[,FIELD=VALUE...]]' -> (key, {field: value}); raises VariantError on bad syntax or fields."""
    key, _, rest = text.partition(":")
    if not key:
        raise VariantError(f"'{text}': expected KEY or KEY:FIELD=VALUE[,FIELD=VALUE...]")
    overrides: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise VariantError(f"'{text}': override '{item}' is not FIELD=VALUE")
        _check_field(text, name)
        overrides[name] = _parse_value(value.strip())
    if rest and not overrides:
        raise VariantError(f"'{text}': nothing after ':'; expected FIELD=VALUE[,FIELD=VALUE...]")
    return key, overrides


def _check_field(text: str, name: str) -> None:
    head, _, tail = name.partition(".")
    known = list(ARCHITECTURE_FIELDS) + [f"{p}.{f}" for p, fields in NESTED_FIELDS.items() for f in fields]
    if (tail and tail in NESTED_FIELDS.get(head, ())) or (not tail and head in ARCHITECTURE_FIELDS):
        return
    hint = did_you_mean(name, known, cutoff=0.6) or "; fields are those of [architecture] in a spec file"
    raise VariantError(f"'{text}': unknown architecture field '{name}'{hint}")


def _apply(architecture: Architecture, overrides: dict[str, object]) -> dict:
    document = architecture.model_dump(mode="json")
    for name, value in overrides.items():
        head, _, tail = name.partition(".")
        if tail:
            if document[head] is None:
                raise VariantError(f"cannot set '{name}': the architecture has no {head}")
            document[head][tail] = value
        else:
            document[head] = value
    return document


def _one_line(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'architecture'}: {e['msg']}" for e in error.errors())


def _from_text(text: str) -> Variant:
    key, overrides = parse_variant(text)
    record = load_record(key)
    key, architecture = record.key, record.architecture
    if overrides:
        try:
            architecture = Architecture.model_validate(_apply(architecture, overrides))
        except ValidationError as error:
            raise VariantError(f"'{text}' is not a valid architecture: {_one_line(error)}") from None
    return Variant(key=key, architecture=architecture, overrides=overrides)


def scale(spec: str | ModelRecord | Architecture | Variant, target: str | int) -> Variant:
    """A proxy of `spec` for a preset ('tiny', 'small', '1b') or a total parameter count (see zoo.scaling)."""
    variant = resolve_variant(spec)
    if variant.scale is not None:
        raise VariantError(f"'{variant.name}' is already a proxy; scale the full-size record instead")
    try:
        proxy = proxy_architecture(variant.architecture, target)
    except ValidationError as error:
        raise VariantError(f"'{variant.name or 'architecture'}' cannot be scaled to '{target}': {_one_line(error)}") from None
    except ValueError as error:
        raise VariantError(str(error)) from None
    return replace(variant, architecture=proxy, scale=target)


def resolve_variant(spec: str | ModelRecord | Architecture | Variant, scale_to: str | int | None = None) -> Variant:
    """The Variant that anything build, scale and bench accept names, scaled when `scale_to` is given.

    A string is variant text (a key, optionally with overrides); VariantError with one line otherwise.
    """
    if isinstance(spec, Variant):
        variant = spec
    elif isinstance(spec, str):
        variant = _from_text(spec)
    elif isinstance(spec, ModelRecord):
        variant = Variant(key=spec.key, architecture=spec.architecture)
    elif isinstance(spec, Architecture):
        variant = Variant(key=None, architecture=spec)
    else:
        raise VariantError(f"expected a model key, variant text, ModelRecord, Architecture or Variant, "
                           f"got {type(spec).__name__}")
    return variant if scale_to is None else scale(variant, scale_to)
