"""Every bundled spec is valid and flattens to exactly the public contract columns."""

import re
from pathlib import Path

import pytest

from zoo.columns import CONTRACT_COLUMNS, flatten
from zoo.specfile import load_spec, spec_paths

SPEC_PATHS = spec_paths()

# The surveyed checkpoints of shared/design/models.md; the catalog must hold at least these.
SURVEYED = """transformer-big gpt-1 bert-large gpt2-xl t5-11b t5-v1_1-xxl gpt3-175b gpt-j-6b gopher-280b
gpt-neox-20b opt-175b opt-350m bloom-176b palm-540b chinchilla-70b llama-7b llama-65b llama-2-7b llama-2-70b
mistral-7b mixtral-8x7b gemma-7b gemma-2-9b gemma-2-27b grok-1 llama-3-8b llama-3.1-405b qwen2.5-7b
deepseek-67b olmo-2-7b command-r-plus command-a llama-4-scout llama-4-maverick qwen3-8b gemma-3-27b""".split()
FRONTIER = """deepseek-v2 deepseek-v3 qwen3-235b-a22b qwen3-30b-a3b kimi-k2 glm-4.5 smollm3-3b gpt-oss-120b
gpt-oss-20b olmo-3-7b""".split()


def test_every_surveyed_and_frontier_model_has_a_spec():
    assert (len(SURVEYED), len(FRONTIER)) == (36, 10)
    assert set(SURVEYED + FRONTIER) <= {path.stem for path in SPEC_PATHS}


def _keys(table: str) -> list[str]:
    return sorted(key for key in re.findall(r"^\| ([a-z0-9][a-z0-9._-]*) \|", table, re.M) if key != "key")


def test_survey_lists_match_the_design_document_when_present():
    """The document's first table is the landmark survey; its "Frontier records" table, the 2024-26 additions."""
    design = Path(__file__).resolve().parents[3] / "shared" / "design" / "models.md"
    if design.exists():
        landmarks, _, frontier = design.read_text().partition("## Frontier records")
        assert _keys(landmarks) == sorted(SURVEYED)
        assert _keys(frontier) == sorted(FRONTIER)


@pytest.mark.parametrize("path", SPEC_PATHS, ids=lambda p: p.stem)
def test_spec_loads_and_flattens_to_the_contract(path):
    record = load_spec(path)
    row = flatten(record)
    assert list(row) == list(CONTRACT_COLUMNS)
    for column, kind in CONTRACT_COLUMNS.items():
        value = row[column]
        assert value is None or isinstance(value, kind) or (kind is float and isinstance(value, int)), column
    assert row["key"] == path.stem
    assert row["sources"] and all(url.startswith("http") for url in row["sources"])
    assert row["year"] == int(record.released[:4])


@pytest.mark.parametrize("path", SPEC_PATHS, ids=lambda p: p.stem)
def test_derived_columns_are_computed_from_the_architecture(path):
    record = load_spec(path)
    a, row = record.architecture, flatten(record)
    if "d_ff" not in record.assumed and "d_model" not in record.assumed:
        assert row["ffn_ratio"] == pytest.approx(a.d_ff / a.d_model)
    expected_attention = ("mla" if a.mla is not None else "mha" if a.n_kv_heads == a.n_heads
                          else "mqa" if a.n_kv_heads == 1 else "gqa")
    assert row["attention"] in (expected_attention, None)
    assert row["gated_mlp"] == (a.activation.value in ("swiglu", "geglu", "reglu", "clamped-swiglu"))


@pytest.mark.parametrize("path", SPEC_PATHS, ids=lambda p: p.stem)
def test_assumed_values_stay_out_of_the_public_row(path):
    record = load_spec(path)
    row = flatten(record)
    for field in record.assumed:
        if field in row:
            assert row[field] is None, field
