"""Every dashboard page run with streamlit's AppTest against a catalog in a temporary file.

Expectations come from the catalog itself (its frame and records), never from model data typed in here.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import streamlit as st
from tests.app.helpers import PAGES_DIR, chart_data, chart_datasets, charts, open_app, open_page

from dashboard.choices import CHOICES, HEADLINE_CHOICES, consensus_summary
from dashboard.comparison import COMPARED_FIELDS
from zoo import BenchmarkRow, Catalog, SpecError
from zoo.schema import ARCHITECTURE_FIELDS, NESTED_FIELDS


def models_caption(at) -> str:
    return next(c.value for c in at.caption if " models." in c.value)


def points(chart) -> pd.DataFrame:
    """The models a chart over time plots (the layer whose rows link to model pages, not its reference rules)."""
    return next(d for d in chart_datasets(chart) if "page" in d.columns and "note" not in d.columns)


def rarest_arch(frame: pd.DataFrame) -> str:
    counts = frame["arch"].value_counts()
    return counts.index[-1]


def test_the_sidebar_names_the_catalog_and_its_benchmark_rows(catalog, catalog_path):
    at = open_app()
    caption = " ".join(c.value for c in at.sidebar.caption)
    stored = len(catalog.benchmarks())
    assert f"Catalog: `{catalog_path}`" in caption and f"{stored} benchmark row(s)" in caption


@pytest.mark.usefixtures("catalog")
def test_the_navigation_reaches_every_page_without_an_error():
    at = open_app()
    pages = sorted(path.stem for path in PAGES_DIR.glob("*.py"))
    assert len(pages) == 6
    for page in pages:
        at.switch_page(f"dashboard/pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title, page


# Trends


def test_trends_leads_with_the_consensus_then_one_choice_in_detail(frame):
    at = open_page("trends")
    heatmap, timeline, shares = charts(at)
    assert models_caption(at).startswith(f"{len(frame)} of {len(frame)} models.")
    since = int(frame["year"].max()) - 2
    assert at.info[0].value == consensus_summary(frame, since, HEADLINE_CHOICES)
    cells = chart_data(heatmap)
    assert set(cells["choice"]) == {c.title for c in CHOICES}
    assert len(chart_data(timeline)) == len(frame)
    assert set(chart_data(shares)["year"]) == set(frame["year"])
    assert [t.label for t in at.tabs] == ["Consensus by year", "One choice in detail"]


def test_trends_architecture_filter_reduces_the_plotted_models(frame):
    arch = rarest_arch(frame)
    at = open_page("trends")
    at.button_group(key="arch").set_value([arch]).run()
    assert not at.exception
    expected = int((frame["arch"] == arch).sum())
    assert expected < len(frame)
    assert models_caption(at).startswith(f"{expected} of {len(frame)} models.")
    assert len(chart_data(charts(at)[1])) == expected


def test_trends_choice_in_the_url_picks_the_detail(frame):
    at = open_page("trends", {"choice": "Local/global layers"})
    timeline = chart_data(charts(at)[1])
    assert "chunked + global" in set(timeline["label"])
    named = timeline[timeline["first"]]
    first = frame.loc[frame["chunked_attention"].fillna(False).astype(bool), "released"].min()
    assert set(named.loc[named["label"] == "chunked + global", "released"]) == {first}
    assert all(page.startswith("/model?model=") for page in timeline["page"])


def test_trends_years_without_models_show_an_empty_state(frame):
    arch = rarest_arch(frame)
    years = sorted(set(range(frame["year"].min(), frame["year"].max() + 1)) - set(frame.loc[frame["arch"] == arch, "year"]))
    assert years, "every year has a model of the rarest kind; pick another empty combination"
    at = open_page("trends", {"arch": arch, "years": [str(years[0]), str(years[0])]})
    assert not charts(at)
    assert any("No models match" in i.value for i in at.info)


# Hyperparameters


def test_hyperparameters_draws_each_published_figure(frame):
    at = open_page("hyperparameters")
    columns = ["ffn_ratio", "aspect_ratio", "head_ratio", "vocab_size", "context_length", "kv_cache_bytes_per_token"]
    has_params = frame[["params_published", "params_total", "params_active"]].notna().any().any()
    expected = sum(frame[c].notna().any() for c in columns) + int(has_params) + 3 * int(frame["n_experts"].notna().any())
    assert len(charts(at)) == expected
    ffn = charts(at)[0]
    assert len(points(ffn)) == frame["ffn_ratio"].notna().sum()
    references = next(d for d in chart_datasets(ffn) if "value" in d.columns and "label" in d.columns)
    assert sorted(references["value"]) == pytest.approx([8 / 3, 4.0])
    off_scale = next(d for d in chart_datasets(ffn) if "note" in d.columns)  # outliers named at the edge
    outside = (frame["ffn_ratio"] > 8) | (frame["ffn_ratio"] < 1.5)  # T5's 64x; fine-grained experts' widths
    assert set(off_scale["name"]) == set(frame.loc[outside, "name"])
    assert set(off_scale["shown"]) <= {1.5, 8}
    aspect = charts(at)[1]
    band = next(d for d in chart_datasets(aspect) if "low" in d.columns)
    assert (band["low"].iloc[0], band["high"].iloc[0]) == (100, 200)


def test_hyperparameters_vocabulary_is_split_by_training_languages(catalog, frame):
    at = open_page("hyperparameters")
    vocab = next(c for c in charts(at) if "languages" in points(c).columns)
    data = points(vocab).set_index("name")
    published = set(frame.loc[frame["vocab_size"].notna(), "name"])
    assert set(data.index) == published
    for record in (r for r in catalog.records() if r.name in published):
        assert data.loc[record.name, "languages"] == ("multilingual" if record.multilingual else "monolingual")


def test_hyperparameters_filter_reduces_the_points(frame):
    arch = rarest_arch(frame)
    at = open_page("hyperparameters", {"arch": arch})
    assert models_caption(at) == f"{(frame['arch'] == arch).sum()} of {len(frame)} models."
    assert len(points(charts(at)[0])) == ((frame["arch"] == arch) & frame["ffn_ratio"].notna()).sum()


# Explorer


def test_explorer_lists_every_model_and_an_organisation_filter_reduces_the_rows(frame):
    at = open_page("explorer")
    assert len(at.dataframe[0].value) == len(frame)
    assert len(charts(at)) == 1
    org = frame["organization"].value_counts().index[0]
    at.multiselect(key="org").set_value([org]).run()
    assert not at.exception
    assert sorted(at.dataframe[0].value["name"]) == sorted(frame.loc[frame["organization"] == org, "name"])


def test_explorer_choice_filter_from_the_url(frame):
    at = open_page("explorer", {"is_norm_position": "post-norm"})
    assert sorted(at.dataframe[0].value["name"]) == sorted(frame.loc[frame["norm_position"] == "post", "name"])


def test_explorer_filters_that_match_nothing_show_an_empty_state(frame):
    orgs = frame.groupby("organization")["arch"].agg(set)
    kinds = set(frame["arch"])
    org, missing = next((org, sorted(kinds - have)[0]) for org, have in orgs.items() if kinds - have)
    at = open_page("explorer", {"org": org, "arch": missing})
    assert not at.dataframe
    assert any("No models match" in i.value for i in at.info)


# Model page


def test_model_page_shows_every_field_its_sources_and_a_build_snippet(catalog):
    key = catalog.keys()[0]
    record = catalog.get(key)
    at = open_page("model", {"model": key})
    assert at.title[0].value == record.name
    fields = at.table[-1].value
    expected = [f"{name}.{inner}" for name, inners in NESTED_FIELDS.items() for inner in inners]
    expected += [name for name in ARCHITECTURE_FIELDS if name not in NESTED_FIELDS]
    assert set(expected) <= set(fields.index)
    choices = at.table[0].value
    assert list(choices.index) == [c.title for c in CHOICES]
    markdown = "\n".join(m.value for m in at.markdown)
    for source in record.sources:
        assert f"({source.url})" in markdown
    assert any(f'build("{key}"' in c.value for c in at.code)
    assert at.metric[0].label == "Published parameters"
    assert at.query_params["model"] == key


@pytest.mark.parametrize("key, expected", [
    ("llama-2-7b", ["Decoder", "causal self-attention · MHA: 32 heads × 128", "Block × 32", "MLP (SwiGLU)"]),
    ("bert-large", ["Encoder", "bidirectional self-attention", "post, after the add", "MLM transform"]),
    ("t5-11b", ["Encoder", "Decoder", "cross-attention to the encoder output", "T5 relative bias"]),
    ("mixtral-8x7b", ["GQA: 32 heads / 8 KV heads × 128", "MoE: 8 experts, top-2"]),
    ("gemma-2-9b", ["sliding window 4,096", "RMSNorm (on the output)", "soft-cap 50"]),
])
def test_model_page_draws_the_architecture_from_the_spec(catalog, key, expected):
    at = open_page("model", {"model": key})
    svg = next(m.value for m in at.markdown if m.value.startswith("<svg"))
    for text in expected:
        assert text in svg.replace("&amp;", "&"), text
    layers = catalog.get(key).architecture.n_layers
    assert svg.count("<title>layer ") == layers + (catalog.get(key).architecture.n_encoder_layers or 0)


def test_model_page_says_when_the_url_names_an_unknown_model():
    at = open_page("model", {"model": "no-such-model"})
    assert any("no-such-model" in w.value for w in at.warning)
    assert not at.dataframe


# Compare


def two_related_models(frame: pd.DataFrame) -> list[str]:
    """Two records of the family with most members (or the first two keys)."""
    family = frame["family"].value_counts().index[0]
    keys = frame.loc[frame["family"] == family, "key"].tolist()
    return keys[:2] if len(keys) >= 2 else frame["key"].tolist()[:2]


def test_compare_shows_exactly_the_fields_two_records_differ_in(frame):
    keys = two_related_models(frame)
    rows = frame.set_index("key").loc[keys]
    first, second = rows.iloc[0], rows.iloc[1]
    expected = [f for f in COMPARED_FIELDS
                if not (pd.isna(first[f]) and pd.isna(second[f])) and
                (pd.isna(first[f]) or pd.isna(second[f]) or first[f] != second[f])]
    at = open_page("compare", {"models": keys})
    differences = at.dataframe[0].value
    assert list(differences.index) == expected
    assert list(differences.columns) == list(rows["name"])
    assert len(charts(at)) >= 1


def test_compare_asks_for_two_models_and_reports_unknown_ones(frame):
    key = frame["key"].iloc[0]
    at = open_page("compare", {"models": [key, "no-such-model"]})
    assert any("no-such-model" in w.value for w in at.warning)
    assert any("at least two" in i.value for i in at.info)
    assert not at.dataframe


# Benchmarks


def test_benchmarks_without_runs_says_how_to_produce_them():
    at = open_page("benchmarks")
    assert any("No benchmark runs" in i.value for i in at.info)
    assert any("zoo bench" in c.value for c in at.code)
    assert not charts(at)


def fake_run(key: str, mode: str, tokens_per_s: float) -> BenchmarkRow:
    return BenchmarkRow(key=key, spec_json="{}", variant="scale=tiny", mode=mode, batch=1, seq=64, dtype="fp32",
                        device="cpu", device_name="test cpu", torch_version="test",
                        created_at=dt.datetime.now(dt.UTC).isoformat(), tokens_per_s=tokens_per_s,
                        peak_memory_bytes=2**20)


def test_benchmarks_chart_stored_runs_and_filter_by_mode(catalog_path, tmp_path, monkeypatch, frame):
    path = tmp_path / "with-runs.sqlite"
    path.write_bytes(catalog_path.read_bytes())
    stored = Catalog(path)
    keys = frame["key"].tolist()[:3]
    for index, key in enumerate(keys):
        stored.add_benchmark(fake_run(key, "forward", 1000.0 * (index + 1)))
    stored.add_benchmark(fake_run(keys[0], "train", 300.0))
    monkeypatch.setenv("ARCHZOO_DB", str(path))
    at = open_page("benchmarks")
    assert len(at.dataframe[0].value) == len(keys)
    assert len(chart_data(charts(at)[0])) == len(keys)
    at.button_group(key="mode").set_value("train").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1


# A catalog that cannot be opened


def test_invalid_specs_show_the_problems_and_how_to_rebuild(tmp_path, monkeypatch):
    def invalid(paths):
        raise SpecError(["specs/broken.toml: d_model: required field is missing"])

    monkeypatch.setenv("ARCHZOO_DB", str(tmp_path / "fresh.sqlite"))
    monkeypatch.setattr("zoo.catalog.load_specs", invalid)
    for page in ("trends", "compare"):
        at = open_page(page)
        assert at.error and "cannot be opened" in at.error[0].value
        assert any("broken.toml" in c.value for c in at.code)
        assert any("zoo catalog build" in c.value for c in at.code)
        assert not charts(at)


def test_an_unusable_catalog_path_shows_the_error(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("ARCHZOO_DB", str(not_a_folder / "catalog.sqlite"))
    at = open_page("explorer")
    assert at.error and "cannot be opened" in at.error[0].value
    assert any("zoo catalog build" in c.value for c in at.code)


def test_a_fresh_machine_gets_its_catalog_in_the_users_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ARCHZOO_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # nothing there yet
    st.cache_data.clear()
    st.cache_resource.clear()
    at = open_app()
    path = tmp_path / "data" / "archzoo" / "catalog.sqlite"
    assert path.is_file() and not at.error
    assert f"Catalog: `{path}` · 0 benchmark row(s)" in " ".join(c.value for c in at.sidebar.caption)
