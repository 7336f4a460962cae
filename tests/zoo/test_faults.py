"""Faults injected into the catalog: killed processes, rebuilds under open handles and running benchmarks,
concurrent rebuilders, readers and writers, read-only folders, a full disk, damaged files and broken specs.

Each ends in the catalog that survives holding every committed row, `PRAGMA integrity_check` ok, and every
refusal one line. The whole file stays well under a minute.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from zoo import catalog as catalog_module
from zoo.catalog import BenchmarkRow, Catalog, CatalogError, StaleCatalogWarning, build_catalog
from zoo.cli import main
from zoo.specfile import SpecError, load_spec, load_specs, spec_paths, specs_dir


def _row(key: str = "gpt-1", tokens_per_s: float = 1.0) -> BenchmarkRow:
    return BenchmarkRow(key=key, spec_json="{}", mode="forward", batch=1, seq=8, dtype="fp32", device="cpu",
                        torch_version="test", created_at="2026-01-01T00:00:00", tokens_per_s=tokens_per_s,
                        step_time_median_s=0.1, step_time_iqr_s=0.01, flops_per_token=1.0, achieved_flops_per_s=1.0)


def _stored(path: Path) -> list[float]:
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return sorted(r[0] for r in connection.execute("SELECT tokens_per_s FROM benchmarks"))
    finally:
        connection.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A catalog built once; tests copy it rather than rebuild."""
    path = tmp_path_factory.mktemp("built") / "catalog.sqlite"
    build_catalog(path)
    return path


@pytest.fixture
def catalog_path(built, tmp_path) -> Path:
    path = tmp_path / "catalog.sqlite"
    shutil.copy(built, path)
    return path


def _env(path: Path) -> dict:
    return {**{k: v for k, v in os.environ.items() if k != "ARCHZOO_DEBUG"}, "ARCHZOO_DB": str(path)}


# ----- handles and rebuilds


def test_an_open_handle_reads_and_writes_the_file_that_replaced_its_own(catalog_path):
    handle = Catalog(catalog_path)
    handle.add_benchmark(_row(tokens_per_s=1.0))
    inode = catalog_path.stat().st_ino
    build_catalog(catalog_path)
    assert catalog_path.stat().st_ino != inode
    handle.add_benchmark(_row(tokens_per_s=2.0))
    assert len(handle.keys()) == len(spec_paths())
    assert _stored(catalog_path) == [1.0, 2.0]


def test_a_rebuild_during_bench_all_loses_no_run(catalog_path, monkeypatch, capsys):
    keys = ["gpt-1", "llama-2-7b", "gpt2-xl"]
    monkeypatch.setattr(Catalog, "keys", lambda self: keys)
    stop, rebuilds = threading.Event(), []

    def rebuild():
        while not stop.is_set():
            build_catalog(catalog_path)
            rebuilds.append(1)

    rebuilder = threading.Thread(target=rebuild)
    rebuilder.start()
    try:
        code = main(["--db", str(catalog_path), "bench", "--all", "--scale", "tiny", "--batch", "1", "--seq", "8",
                     "--warmup", "0", "--iters", "1", "--spread", "0"])
    finally:
        stop.set()
        rebuilder.join()
    capsys.readouterr()
    assert code == 0 and len(rebuilds) >= 2
    assert len(_stored(catalog_path)) == len(keys)


# ----- killed processes


@pytest.mark.parametrize("command, kills", [(["catalog", "build"], 4), (["bench", "gpt-1", "--scale", "tiny"], 3)])
def test_sigkill_at_random_moments_loses_no_committed_row(command, kills, catalog_path):
    for value in (1.0, 2.0, 3.0):
        Catalog(catalog_path).add_benchmark(_row(tokens_per_s=value))
    chance = random.Random(7)
    fast = ["--batch", "1", "--seq", "8", "--warmup", "0", "--iters", "1", "--spread", "0"]
    extra = fast if command[0] == "bench" else []
    for _ in range(kills):
        process = subprocess.Popen([sys.executable, "-m", "zoo", "--db", str(catalog_path), *command, *extra],
                                   env=_env(catalog_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(chance.uniform(0.2, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        stored = _stored(catalog_path)
        assert stored[:3] == [1.0, 2.0, 3.0] and len(stored) in (3, 4, 5, 6)  # a finished bench run adds one
    build_catalog(catalog_path)  # the next build clears what killed builds left behind
    assert not list(catalog_path.parent.glob("*.building"))
    assert _stored(catalog_path)[:3] == [1.0, 2.0, 3.0]


# ----- concurrency


def _rebuilder(path: str, until: float, errors) -> None:
    while time.time() < until:
        try:
            build_catalog(Path(path))
        except Exception as error:  # noqa: BLE001 - counted, not raised, in a child process
            errors.put(repr(error))


def _reader(path: str, until: float, errors) -> None:
    handle = Catalog(path, rebuild=False)
    while time.time() < until:
        try:
            assert len(handle.rows()) == len(spec_paths())
            handle.benchmarks()
        except Exception as error:  # noqa: BLE001
            errors.put(repr(error))


def _writer(path: str, until: float, errors, written) -> None:
    handle = Catalog(path, rebuild=False)
    while time.time() < until:
        try:
            handle.add_benchmark(_row(tokens_per_s=1.0))
            written.put(1)
        except Exception as error:  # noqa: BLE001
            errors.put(repr(error))


def test_concurrent_rebuilders_readers_and_writers(catalog_path):
    context = multiprocessing.get_context("fork")
    errors, written = context.Queue(), context.Queue()
    until = time.time() + 4
    workers = [context.Process(target=_rebuilder, args=(str(catalog_path), until, errors)) for _ in range(2)]
    workers += [context.Process(target=_reader, args=(str(catalog_path), until, errors)) for _ in range(2)]
    workers += [context.Process(target=_writer, args=(str(catalog_path), until, errors, written)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    found = []
    while not errors.empty():
        found.append(errors.get())
    count = 0
    while not written.empty():
        count += written.get()
    assert found == [] and count > 0
    assert len(_stored(catalog_path)) == count


# ----- read-only folders and a full disk


def _read_only(folder: Path, on: bool) -> None:
    """Nothing can be created in the folder: chmod for a user; root ignores modes, so the immutable flag."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i" if on else "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555 if on else 0o755)


def test_a_read_only_folder_refuses_before_any_work(catalog_path):
    Catalog(catalog_path).add_benchmark(_row(tokens_per_s=9.0))  # the lock file exists; the folder alone is fixed
    _read_only(catalog_path.parent, True)
    try:
        done = subprocess.run([sys.executable, "-m", "zoo", "bench", "gpt-1", "--scale", "tiny"],
                              env=_env(catalog_path), capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith(f"zoo: {catalog_path}: results cannot be stored here")
        assert len(done.stderr.splitlines()) == 1
        built = subprocess.run([sys.executable, "-m", "zoo", "catalog", "build", "--db", str(catalog_path)],
                               env=_env(catalog_path), capture_output=True, text=True, timeout=60)
        assert built.returncode == 2 and "cannot write the catalog" in built.stderr
        assert len(built.stderr.splitlines()) == 1
    finally:
        _read_only(catalog_path.parent, False)
    assert _stored(catalog_path) == [9.0]


def _small_disk():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_full_disk_is_one_line_and_leaves_the_catalog_as_it_was(catalog_path):
    Catalog(catalog_path).add_benchmark(_row(tokens_per_s=5.0))
    before = catalog_path.read_bytes()
    done = subprocess.run([sys.executable, "-m", "zoo", "catalog", "build", "--db", str(catalog_path)],
                          env=_env(catalog_path), capture_output=True, text=True, preexec_fn=_small_disk, timeout=60)
    assert done.returncode == 2 and "cannot write the catalog" in done.stderr and len(done.stderr.splitlines()) == 1
    assert catalog_path.read_bytes() == before and not list(catalog_path.parent.glob("*.building"))


# ----- damaged files, schema changes, broken specs


def test_a_damaged_catalog_is_one_line(catalog_path, capsys):
    connection = sqlite3.connect(catalog_path)
    connection.execute("UPDATE models SET spec_json = '{not json' WHERE key = 'gpt-1'")
    connection.commit()
    connection.close()
    with pytest.raises(CatalogError, match="a stored record is damaged"):
        Catalog(catalog_path).get("gpt-1")
    connection = sqlite3.connect(catalog_path)
    connection.execute("DROP TABLE models")
    connection.commit()
    connection.close()
    assert main(["--db", str(catalog_path), "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the catalog cannot be read (no such table: models)" in err[0]


def test_benchmark_rows_cross_schema_versions_by_migration_only(catalog_path, monkeypatch):
    Catalog(catalog_path).add_benchmark(_row(tokens_per_s=7.0))
    connection = sqlite3.connect(catalog_path)
    connection.execute("ALTER TABLE benchmarks RENAME COLUMN tokens_per_s TO throughput")
    connection.commit()
    before = catalog_path.read_bytes()
    with pytest.raises(CatalogError, match="throughput that this version does not know"):
        build_catalog(catalog_path)
    assert catalog_path.read_bytes() == before  # refused, nothing dropped
    connection.execute("UPDATE meta SET value = '0' WHERE name = 'benchmark_schema'")  # stored under schema 0
    connection.commit()
    connection.close()
    with pytest.raises(CatalogError, match="no migration carries benchmark rows from schema 0 to 1"):
        build_catalog(catalog_path)

    def rename(row: dict) -> dict:
        row["tokens_per_s"] = row.pop("throughput")
        return row

    monkeypatch.setattr(catalog_module, "BENCHMARK_SCHEMA", 1)
    monkeypatch.setitem(catalog_module.BENCHMARK_MIGRATIONS, 0, rename)
    build_catalog(catalog_path)
    assert _stored(catalog_path) == [7.0]


def test_rows_stored_before_sharded_runs_migrate_as_one_process_runs(catalog_path):
    Catalog(catalog_path).add_benchmark(_row(tokens_per_s=3.0))
    connection = sqlite3.connect(catalog_path)
    connection.execute("ALTER TABLE benchmarks DROP COLUMN world_size")
    connection.execute("ALTER TABLE benchmarks DROP COLUMN sharding")
    connection.execute("UPDATE meta SET value = '1' WHERE name = 'benchmark_schema'")
    connection.commit()
    connection.close()
    build_catalog(catalog_path)
    row = Catalog(catalog_path).benchmarks().iloc[0]
    assert (row["tokens_per_s"], row["world_size"], row["sharding"]) == (3.0, 1, "none")


def test_broken_specs_keep_serving_the_last_good_catalog(catalog_path, tmp_path, monkeypatch, capsys):
    specs = tmp_path / "specs"
    shutil.copytree(specs_dir(), specs)
    (specs / "gpt-1.toml").write_text((specs / "gpt-1.toml").read_text().replace("d_model = 768", 'd_model = "768"'))
    monkeypatch.setattr(catalog_module, "specs_dir", lambda: specs)
    with pytest.warns(StaleCatalogWarning, match="gpt-1.toml: architecture.d_model: Input should be a valid integer"):
        assert len(Catalog(catalog_path).keys()) == len(spec_paths())
    assert main(["--db", str(catalog_path), "list", "--columns", "key"]) == 0
    captured = capsys.readouterr()
    assert "gpt-1" in captured.out
    assert captured.err.startswith("zoo: warning: ") and len(captured.err.splitlines()) == 1


def test_a_catalog_in_a_missing_folder_is_refused_not_created(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        Catalog(tmp_path / "typo" / "dir" / "catalog.sqlite")
    assert not (tmp_path / "typo").exists()


def test_a_built_catalog_has_the_umasks_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        build_catalog(tmp_path / "c.sqlite")
    finally:
        os.umask(old)
    assert (tmp_path / "c.sqlite").stat().st_mode & 0o777 == 0o644


# ----- spec files that are not files


def test_folders_links_and_fifos_named_toml_are_one_line_each(tmp_path):
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "dangling.toml").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "fifo.toml")
    with pytest.raises(SpecError) as error:
        load_specs(sorted(tmp_path.glob("*.toml")))  # a FIFO read would block: the test finishing is the check
    assert sorted(error.value.problems) == sorted(f"{tmp_path / name}: (file): not a regular file"
                                                  for name in ("dangling.toml", "fifo.toml", "folder.toml"))


def test_deep_nesting_is_one_line(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(SpecError) as error:
        load_spec(path)
    assert error.value.problems == [f"{path}: (file): tables or arrays nested too deeply to be a spec"]
