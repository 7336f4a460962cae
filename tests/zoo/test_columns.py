"""COLUMNS.md, the public row's contract, and the code that writes the row stay in step."""

import re
from pathlib import Path

from zoo.columns import CONTRACT_COLUMNS

CONTRACT = Path(__file__).resolve().parents[2] / "COLUMNS.md"
TYPES = {"int": int, "float": float, "str": str, "enum": str, "bool": bool}


def _documented() -> list[tuple[str, str | None]]:
    """(column, type or None) for every row of every table in COLUMNS.md, in order."""
    rows = []
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and re.fullmatch(r"[a-z_]+", cells[0]) and cells[0] != "column":
            rows.append((cells[0], cells[1] if len(cells) == 3 and cells[1] in TYPES else None))
    return rows


def test_the_contract_names_exactly_the_columns_in_their_order():
    assert [name for name, _ in _documented()] == list(CONTRACT_COLUMNS)


def test_documented_types_are_the_column_types():
    typed = [(name, kind) for name, kind in _documented() if kind is not None]
    assert len(typed) > 40
    assert all(CONTRACT_COLUMNS[name] is TYPES[kind] for name, kind in typed), [
        name for name, kind in typed if CONTRACT_COLUMNS[name] is not TYPES[kind]]


def test_frontier_columns_are_filled_for_every_record_from_its_spec():
    from zoo.specfile import load_specs, spec_paths
    from zoo.columns import flatten

    rows = {record.key: flatten(record) for record in load_specs(spec_paths())}
    scout, maverick, mixtral = rows["llama-4-scout"], rows["llama-4-maverick"], rows["mixtral-8x7b"]
    assert (scout["nope_layers"], scout["rope_scaling"], scout["n_dense_layers"]) == (12, "llama3", 0)
    assert (maverick["n_dense_layers"], maverick["moe_router"]) == (24, "topk-sigmoid")
    assert (mixtral["expert_d_ff"], mixtral["moe_router"]) == (14336, "topk-softmax")
    assert rows["gemma-3-27b"]["rope_scaling"] == "linear" and rows["gpt2-xl"]["rope_scaling"] == "none"
    v3 = rows["deepseek-v3"]
    assert (v3["attention"], v3["kv_lora_rank"], v3["q_lora_rank"], v3["mtp_layers"]) == ("mla", 512, 1536, 1)
    assert (v3["n_dense_layers"], v3["moe_router"], v3["rope_scaling"], v3["expert_d_ff"]) == (3, "sigmoid-topk", "yarn", 2048)
    for row in rows.values():
        assert isinstance(row["attention_sinks"], bool)
        assert (row["attention"] == "mla") == (row["kv_lora_rank"] is not None)
        dense = row["n_experts"] is None
        assert dense == (row["expert_d_ff"] is None) == (row["moe_router"] is None) == (row["n_dense_layers"] is None)
        assert isinstance(row["nope_layers"], int)
