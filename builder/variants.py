"""What a benchmark times: a catalogued record, optionally with one-field counterfactuals, optionally scaled.

    "llama-2-7b"                                  the record as catalogued
    "llama-2-7b:norm_position=post"               one field changed
    "mixtral-8x7b:moe.experts_per_token=1,dropout=0.1"   several, nested fields by dotted name

Overrides apply to the full-size architecture and the result is validated by the schema, so an override
that breaks a cross-field rule is refused with the schema's own sentence; a scale preset then shrinks the
counterfactual exactly as it shrinks the original, keeping the changed choice.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from pydantic import ValidationError

from builder.resolve import load_record
from builder.scaling import scale
from zoo.schema import ARCHITECTURE_FIELDS, NESTED_FIELDS, Architecture


class VariantError(ValueError):
    """A variant text that names no record or field, or whose overrides make the spec invalid."""


@dataclass(frozen=True)
class Variant:
    """A record's architecture with overrides applied and, when asked, scaled to a preset."""

    key: str
    overrides: dict[str, object]
    scale: str | None
    architecture: Architecture

    @property
    def label(self) -> str:
        """'scale=tiny, norm_position=post' (empty for the record as catalogued, full size)."""
        parts = [] if self.scale is None else [f"scale={self.scale}"]
        parts += [f"{name}={_show(value)}" for name, value in self.overrides.items()]
        return ", ".join(parts)

    @property
    def name(self) -> str:
        """The variant as typed on the command line, scale appended: 'llama-2-7b:norm_position=post@tiny'."""
        text = self.key + (":" + ",".join(f"{n}={_show(v)}" for n, v in self.overrides.items()) if self.overrides else "")
        return text + (f"@{self.scale}" if self.scale else "")


def _show(value) -> str:
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def _parse_value(text: str):
    """JSON where the text is JSON (numbers, true/false, null), the plain string otherwise (enum values)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


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
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; fields are those of [architecture] in a spec file"
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


def resolve_variant(text: str, scale_preset: str | None = None) -> Variant:
    """The validated (and scaled) architecture a variant text names; VariantError with one line otherwise."""
    key, overrides = parse_variant(text)
    try:
        record = load_record(key)
    except LookupError as error:
        raise VariantError(str(error)) from None
    architecture = record.architecture
    if overrides:
        try:
            architecture = Architecture.model_validate(_apply(architecture, overrides))
        except ValidationError as error:
            raise VariantError(f"'{text}' is not a valid architecture: {_one_line(error)}") from None
    if scale_preset is not None:
        try:
            architecture = scale(architecture, scale_preset).architecture
        except ValidationError as error:
            raise VariantError(f"'{text}' cannot be scaled to '{scale_preset}': {_one_line(error)}") from None
        except ValueError as error:
            raise VariantError(str(error)) from None
    return Variant(key=key, overrides=overrides, scale=scale_preset, architecture=architecture)
