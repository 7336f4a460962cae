"""Spec documents for tests: a valid decoder record as a plain dict, edited per test."""

import copy
import tomllib
from pathlib import Path

SPECS = Path(__file__).resolve().parents[2] / "specs"


def valid_document() -> dict:
    """A complete, valid spec document (the LLaMA 2 7B record as parsed TOML)."""
    return copy.deepcopy(tomllib.loads((SPECS / "llama-2-7b.toml").read_text()))


def with_architecture(**changes) -> dict:
    document = valid_document()
    for name, value in changes.items():
        if value is None:
            document["architecture"].pop(name, None)
        else:
            document["architecture"][name] = value
    return document
