"""The SQLite catalog: round trips, queries, staleness and rebuilds that keep benchmark rows."""

import datetime as dt
import shutil
import sqlite3
import threading

import pytest

from zoo import BenchmarkRow, Catalog, CatalogError, SpecError, build_catalog
from zoo.columns import CONTRACT_COLUMNS
from zoo.specfile import load_spec, spec_paths, specs_dir


@pytest.fixture
def spec_copy(tmp_path):
    """A private, editable copy of the bundled specs."""
    directory = tmp_path / "specs"
    shutil.copytree(specs_dir(), directory)
    return directory


def a_benchmark(key="llama-2-7b", **changes) -> BenchmarkRow:
    values = dict(key=key, spec_json="{}", mode="forward", batch=2, seq=64, dtype="float32", device="cpu",
                  torch_version="test", created_at=dt.datetime.now(dt.UTC).isoformat(), tokens_per_s=123.0)
    return BenchmarkRow(**(values | changes))


def test_round_trip_spec_to_sqlite_to_spec():
    catalog = Catalog()
    for path in spec_paths():
        assert catalog.get(path.stem) == load_spec(path)


def test_frame_has_exactly_the_contract_columns():
    frame = Catalog().frame()
    assert list(frame.columns) == list(CONTRACT_COLUMNS)
    assert len(frame) == len(spec_paths())
    assert frame["key"].is_unique
    assert str(frame["d_model"].dtype) == "Int64"


def test_where_filters_on_columns_and_years():
    catalog = Catalog()
    chosen = catalog.where(norm="rmsnorm", year_from=2023)
    assert chosen and all(r.architecture.norm.value == "rmsnorm" and r.year >= 2023 for r in chosen)
    expected = {r["key"] for r in catalog.rows() if r["norm"] == "rmsnorm" and r["year"] >= 2023}
    assert {r.key for r in chosen} == expected
    assert {r.key for r in catalog.where(parallel_block="true")} == {r["key"] for r in catalog.rows() if r["parallel_block"]}
    with pytest.raises(CatalogError, match="unknown column 'colour'"):
        catalog.where(colour="red")
    with pytest.raises(CatalogError, match="takes a int"):
        catalog.where(d_model="wide")


def test_unknown_key_names_close_matches():
    with pytest.raises(CatalogError, match="did you mean llama-2-7b"):
        Catalog().get("llama-2-7")


def test_session_allows_raw_queries():
    from sqlmodel import select

    from zoo.catalog import ModelRow

    with Catalog().session() as session:
        wide = session.exec(select(ModelRow.key).where(ModelRow.d_model >= 16384)).all()
    assert "gopher-280b" in wide


def test_rebuild_keeps_benchmark_rows(isolated_catalog, spec_copy):
    catalog = Catalog(specs=spec_copy)
    stored = catalog.add_benchmark(a_benchmark(details={"backends": ["sdpa"]}))
    build_catalog(isolated_catalog, spec_copy)
    rows = Catalog(specs=spec_copy).benchmarks(key="llama-2-7b")
    assert len(rows) == 1
    assert rows.iloc[0]["id"] == stored.id and rows.iloc[0]["details"] == {"backends": ["sdpa"]}


def test_changed_spec_makes_the_catalog_stale_and_rebuilds(isolated_catalog, spec_copy):
    Catalog(specs=spec_copy).add_benchmark(a_benchmark())
    path = spec_copy / "llama-2-7b.toml"
    path.write_text(path.read_text().replace('name = "LLaMA 2 7B"', 'name = "LLaMA 2 7B (edited)"'))
    assert Catalog(isolated_catalog, specs=spec_copy, rebuild=False).is_stale()
    catalog = Catalog(specs=spec_copy)
    assert catalog.get("llama-2-7b").name == "LLaMA 2 7B (edited)"
    assert not catalog.is_stale()
    assert len(catalog.benchmarks()) == 1


def test_broken_spec_leaves_the_catalog_untouched(isolated_catalog, spec_copy):
    Catalog(specs=spec_copy).add_benchmark(a_benchmark())
    before = isolated_catalog.read_bytes()
    path = spec_copy / "mistral-7b.toml"
    path.write_text(path.read_text().replace("n_kv_heads = 8", "n_kv_heads = 7"))
    (spec_copy / "broken.toml").write_text("key = [unclosed")
    with pytest.raises(SpecError) as caught:
        build_catalog(isolated_catalog, spec_copy)
    text = "\n".join(caught.value.problems)
    assert "mistral-7b.toml: architecture.n_heads: n_heads (32) must be divisible by n_kv_heads (7)" in text
    assert "broken.toml: (file): malformed TOML" in text
    assert isolated_catalog.read_bytes() == before
    assert not list(isolated_catalog.parent.glob("*.building"))


def test_duplicate_keys_are_rejected(spec_copy, isolated_catalog):
    shutil.copy(spec_copy / "gpt-1.toml", spec_copy / "gpt-1-copy.toml")
    with pytest.raises(SpecError, match="key: must equal the file name 'gpt-1-copy'"):
        build_catalog(isolated_catalog, spec_copy)


def test_readers_see_the_old_or_the_new_catalog_during_rebuilds(isolated_catalog, spec_copy):
    Catalog(specs=spec_copy)
    expected = len(spec_paths(spec_copy))
    seen, errors, done = [], [], threading.Event()

    def read_repeatedly():
        while not done.is_set():
            try:
                connection = sqlite3.connect(f"file:{isolated_catalog}?mode=ro", uri=True)
                seen.append(connection.execute("SELECT count(*) FROM models").fetchone()[0])
                connection.close()
            except sqlite3.Error as error:
                errors.append(error)

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    try:
        for _ in range(3):
            build_catalog(isolated_catalog, spec_copy)
    finally:
        done.set()
        reader.join()
    assert not errors
    assert seen and set(seen) == {expected}


def test_missing_catalog_without_rebuild_says_how_to_build(tmp_path):
    with pytest.raises(CatalogError, match="zoo catalog build"):
        Catalog(tmp_path / "absent.sqlite", rebuild=False)


def test_default_path_falls_back_to_the_user_data_folder(monkeypatch, tmp_path):
    import zoo.catalog as catalog_module

    monkeypatch.delenv("ARCHZOO_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(catalog_module.os, "access", lambda path, mode: False)
    assert catalog_module.default_path() == tmp_path / "data" / "archzoo" / "catalog.sqlite"


@pytest.mark.parametrize("value", [{"wide": 1}, [1.5], ["x"], [None]])
def test_where_values_of_the_wrong_kind_are_one_line(value):
    catalog = Catalog()
    with pytest.raises(CatalogError) as error:
        catalog.where(d_model=value)
    assert "\n" not in str(error.value) and "d_model" in str(error.value)


def test_control_characters_in_a_record_print_escaped(tmp_path, monkeypatch, capsys):
    from zoo import catalog as catalog_module
    from zoo.cli import main

    specs = tmp_path / "specs"
    shutil.copytree(specs_dir(), specs)
    spec = specs / "gpt-1.toml"
    spec.write_text(spec.read_text().replace('name = "GPT"', 'name = "GPT\\u001b[31m red"'))
    monkeypatch.setattr(catalog_module, "specs_dir", lambda: specs)
    assert main(["show", "gpt-1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "GPT\\x1b[31m red" in out


def test_the_default_catalog_is_made_in_the_users_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHZOO_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a folder that does not exist yet
    expected = tmp_path / "data" / "archzoo" / "catalog.sqlite"
    from zoo.catalog import default_path

    assert default_path() == expected
    assert Catalog(str(expected)).path == expected and expected.is_file()  # named explicitly, as the dashboard does
