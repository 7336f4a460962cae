"""Shared fixtures: every test that opens a catalog gets its own database file, and the suite writes only to
temporary folders (no hypothesis database, no bytecode from the processes it starts)."""

import os
import tempfile

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir
import pytest

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="archzoo-hypothesis-"))  # its caches, outside the tree
settings.register_profile("archzoo", database=None)
settings.load_profile("archzoo")


@pytest.fixture(autouse=True)
def isolated_catalog(tmp_path, monkeypatch):
    """Point the default catalog at a temporary file so tests never touch a user's catalog."""
    path = tmp_path / "catalog.sqlite"
    monkeypatch.setenv("ARCHZOO_DB", str(path))
    return path
