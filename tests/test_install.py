"""`pip install .` ships the specs inside the wheel: Catalog() works outside the source tree."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_install_builds_the_catalog_outside_the_source_tree(tmp_path):
    wheels, target, elsewhere, source = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere", tmp_path / "src"
    elsewhere.mkdir()
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "test-artifacts", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
                   check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("archzoo-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    assert len(list((target / "zoo" / "specs").glob("*.toml"))) >= 36

    env = {k: v for k, v in os.environ.items() if k not in ("ARCHZOO_DB", "PYTHONPATH")}
    env["PYTHONPATH"], env["XDG_DATA_HOME"] = str(target), str(tmp_path / "data")
    script = (
        "import zoo; from zoo import Catalog; c = Catalog();"
        "print(zoo.__file__); print(c.path); print(len(c.keys())); print(c.get('llama-2-7b').architecture.d_model)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    module_file, catalog_path, count, d_model = result.stdout.split()
    assert Path(module_file).is_relative_to(target)
    assert Path(catalog_path) == tmp_path / "data" / "archzoo" / "catalog.sqlite"  # the user's data folder
    assert not list(target.rglob("*.sqlite"))
    assert int(count) >= 36 and d_model == "4096"
