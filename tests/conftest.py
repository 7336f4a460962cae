"""Shared fixtures: every test that opens a catalog gets its own database file."""

import pytest


@pytest.fixture(autouse=True)
def isolated_catalog(tmp_path, monkeypatch):
    """Point the default catalog at a temporary file so tests never touch a user's catalog."""
    path = tmp_path / "catalog.sqlite"
    monkeypatch.setenv("ARCHZOO_DB", str(path))
    return path
