"""Fixtures for the dashboard tests: a catalog built once in a temporary file, and the app pointed at it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from dashboard.data import with_record_columns
from zoo import Catalog


@pytest.fixture(scope="session")
def catalog_path(tmp_path_factory) -> Path:
    """A catalog built once from the bundled specs, outside the repository."""
    path = tmp_path_factory.mktemp("catalog") / "catalog.sqlite"
    Catalog(path)
    return path


@pytest.fixture
def catalog(catalog_path, monkeypatch) -> Catalog:
    """The session's catalog, with ARCHZOO_DB pointing the app at it and the app's caches emptied."""
    monkeypatch.setenv("ARCHZOO_DB", str(catalog_path))
    st.cache_data.clear()
    st.cache_resource.clear()
    return Catalog(catalog_path)


@pytest.fixture
def frame(catalog) -> pd.DataFrame:
    """The rows the pages read: the public columns plus the record columns the dashboard adds."""
    return with_record_columns(catalog.frame(), catalog.records())
