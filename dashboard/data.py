"""Cached access to the catalog for every page, and the message shown when it cannot be opened.

The Catalog is a resource (one SQLite engine per process), the frames are data (copied to
each caller). Both are keyed by the database path and the specs' fingerprint, so editing a
spec file or pointing ARCHZOO_DB elsewhere is picked up on the next rerun.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from zoo import Catalog, CatalogError, ModelRecord, SpecError, default_path
from zoo.catalog import specs_fingerprint
from zoo.schema import SourceKind

# What can go wrong opening the catalog: an invalid or missing spec, or an unusable path.
OPEN_ERRORS = (CatalogError, SpecError, OSError)


@st.cache_resource(show_spinner="Opening the catalog…")
def _open_catalog(path: str, fingerprint: str) -> Catalog:
    return Catalog(path)


def _cache_key() -> tuple[str, str]:
    return str(default_path()), specs_fingerprint()


def catalog() -> Catalog:
    """The catalog, opened (and rebuilt when the specs changed) once per process."""
    return _open_catalog(*_cache_key())


def with_record_columns(frame: pd.DataFrame, records: list[ModelRecord]) -> pd.DataFrame:
    """The public rows plus what the dashboard reads from the full records: `release_date` (datetime),
    `multilingual`, `mlp_bias` (MLP biases, which may differ from linear_bias), and the first paper among the
    record's sources (`paper`, `paper_url`; empty where it cites none)."""
    by_key = {record.key: record for record in records}

    def paper(key: str, field: str) -> str:
        papers = [source for source in by_key[key].sources if source.kind is SourceKind.paper]
        return getattr(papers[0], field) if papers else ""

    frame = frame.copy()
    frame["release_date"] = pd.to_datetime(frame["released"], format="%Y-%m")
    frame["multilingual"] = frame["key"].map(lambda key: by_key[key].multilingual).astype("boolean")
    frame["mlp_bias"] = frame["key"].map(lambda key: by_key[key].architecture.has_mlp_bias).astype("boolean")
    frame["paper"] = frame["key"].map(lambda key: paper(key, "title"))
    frame["paper_url"] = frame["key"].map(lambda key: paper(key, "url"))
    return frame


@st.cache_data(show_spinner=False)
def _models_frame(path: str, fingerprint: str) -> pd.DataFrame:
    opened = _open_catalog(path, fingerprint)
    return with_record_columns(opened.frame(), opened.records())


def models_frame() -> pd.DataFrame:
    """The catalog's contract columns plus the record columns of `with_record_columns`."""
    return _models_frame(*_cache_key())


@st.cache_data(show_spinner=False)
def _benchmarks_frame(path: str, fingerprint: str, modified: float) -> pd.DataFrame:
    return _open_catalog(path, fingerprint).benchmarks()


def benchmarks_frame() -> pd.DataFrame:
    """Stored benchmark rows; reread whenever the database file changes (a new run was stored)."""
    path, fingerprint = _cache_key()
    catalog()
    return _benchmarks_frame(path, fingerprint, default_path().stat().st_mtime)


@st.cache_data(show_spinner=False)
def _record_json(path: str, fingerprint: str, key: str) -> str:
    return _open_catalog(path, fingerprint).get(key).model_dump_json()


def record(key: str) -> ModelRecord:
    """The full cited record of one model; CatalogError for an unknown key."""
    return ModelRecord.model_validate_json(_record_json(*_cache_key(), key))


def models_or_stop() -> pd.DataFrame:
    """The models frame, or an explanation of why the catalog cannot be opened and how to rebuild it."""
    try:
        return models_frame()
    except OPEN_ERRORS as error:
        show_open_error(error)
        st.stop()


def catalog_summary() -> str:
    """Which catalog the app reads and how many benchmark rows it holds (shown in the sidebar)."""
    path = default_path()
    try:
        stored = len(benchmarks_frame())
    except OPEN_ERRORS:
        return f"Catalog: `{path}` (cannot be opened)"
    return f"Catalog: `{path}` · {stored} benchmark row(s) · `ARCHZOO_DB` picks another"


def show_open_error(error: Exception) -> None:
    st.error(f"The catalog cannot be opened: {type(error).__name__}", icon=":material/error:")
    problems = error.problems if isinstance(error, SpecError) else [str(error)]
    st.code("\n".join(problems), language=None)
    st.markdown(
        "Fix the problems above (spec files live in `specs/`), then rebuild the catalog and reload this page:"
    )
    st.code(f"zoo validate\nzoo catalog build --db {default_path()}", language="bash")
