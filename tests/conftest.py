"""Shared fixtures: every test that opens a catalog gets its own database file, and the suite writes only to
temporary folders (no hypothesis database, no bytecode from the processes it starts)."""

import os

from hypothesis import settings
import pytest

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
settings.register_profile("archzoo", database=None)
settings.load_profile("archzoo")


@pytest.fixture(autouse=True)
def isolated_catalog(tmp_path, monkeypatch):
    """Point the default catalog at a temporary file so tests never touch a user's catalog."""
    path = tmp_path / "catalog.sqlite"
    monkeypatch.setenv("ARCHZOO_DB", str(path))
    return path
