"""The zoo CLI on good and bad input: tables, JSON/CSV export, validation lines, exit codes."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from zoo.cli import main
from zoo.columns import CONTRACT_COLUMNS
from zoo.specfile import spec_paths


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_filters_rows(capsys):
    code, out, _ = run(capsys, "list", "--where", "norm=rmsnorm", "--since", "2023", "--columns", "key,norm,year")
    assert code == 0
    lines = out.strip().splitlines()
    body = [line.split() for line in lines[2:-2]]
    assert body and all(norm == "rmsnorm" and int(year) >= 2023 for _, norm, year in body)
    assert lines[-1] == f"{len(body)} model(s)"
    code, out, _ = run(capsys, "list")
    assert len(out.strip().splitlines()) == len(spec_paths()) + 4


def test_list_with_no_match_and_bad_filters(capsys):
    code, _, err = run(capsys, "list", "--where", "norm=layernorm", "--since", "2026")
    assert code == 1 and "no models match" in err
    code, _, err = run(capsys, "list", "--where", "norm=batchnorm")
    assert code == 2 and err.strip() == (
        "zoo: where: norm has no value 'batchnorm'; valid values: layernorm (LayerNorm), rmsnorm (RMSNorm)")
    code, _, err = run(capsys, "list", "--where", "nrm=rmsnorm")
    assert code == 2 and "unknown column 'nrm'" in err
    code, _, err = run(capsys, "list", "--where", "norm")
    assert code == 2 and "--where takes COLUMN=VALUE" in err


def test_show_prints_fields_with_sources(capsys):
    code, out, _ = run(capsys, "show", "mistral-7b")
    assert code == 0
    assert "Mistral 7B (mistral-7b)" in out
    assert "sliding_window" in out and "4096" in out
    assert "sources:" in out and "https://" in out
    code, _, err = run(capsys, "show", "mistral-8b")
    assert code == 2 and "unknown model key 'mistral-8b'" in err and "mistral-7b" in err


def test_export_json_has_every_record_and_column(capsys):
    code, out, _ = run(capsys, "export", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == len(spec_paths()) >= 36
    assert all(list(row) == list(CONTRACT_COLUMNS) for row in rows)


def test_export_csv_to_file(capsys, tmp_path):
    target = tmp_path / "catalog.csv"
    code, _, err = run(capsys, "export", "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert code == 0 and f"wrote {len(rows)} records" in err
    assert list(rows[0]) == list(CONTRACT_COLUMNS)


def test_validate_good_and_bad_files(capsys, tmp_path):
    code, out, _ = run(capsys, "validate")
    assert code == 0 and out.strip() == f"{len(spec_paths())} spec(s) valid"
    bad = tmp_path / "llama-2-7b.toml"
    text = (spec_paths()[0].parent / "llama-2-7b.toml").read_text()
    bad.write_text(text.replace("n_kv_heads = 32", "n_kv_heads = 5").replace("norm_eps = 1e-5", 'norm_eps = "tiny"')
                   + "\n[extra]\nflag = true\n")
    code, _, err = run(capsys, "validate", str(bad), str(tmp_path / "missing.toml"))
    assert code == 2
    assert err.strip() == f"{tmp_path / 'missing.toml'}: (file): no such file"
    code, _, err = run(capsys, "validate", str(bad))
    lines = err.strip().splitlines()
    assert code == 2
    assert f"{bad}: architecture.norm_eps: Input should be a valid number" in lines
    assert f"{bad}: extra: unknown field (not part of the schema)" in lines
    wrong_name = tmp_path / "other.toml"
    wrong_name.write_text(text)
    code, _, err = run(capsys, "validate", str(wrong_name))
    assert code == 2 and "key: must equal the file name 'other'" in err


def test_catalog_build_to_a_path(capsys, tmp_path):
    target = tmp_path / "built.sqlite"
    code, out, _ = run(capsys, "catalog", "build", "--db", str(target))
    assert code == 0 and target.exists() and f"from {len(spec_paths())} spec(s)" in out


def test_bad_spec_directory_gives_lines_not_a_traceback(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "x.toml").write_text("key = 'x'\nname = 3\n")
    result = subprocess.run([sys.executable, "-m", "zoo.cli", "catalog", "build", "--db", str(tmp_path / "c.sqlite"),
                             "--specs", str(specs)], capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if k != "ARCHZOO_DEBUG"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{specs / 'x.toml'}: name: Input should be a valid string" in result.stderr
    assert not (tmp_path / "c.sqlite").exists()


@pytest.mark.parametrize("entry", [["-m", "zoo"], ["-m", "zoo.cli"]])
def test_python_dash_m_offers_every_command_and_one_error_type(entry, tmp_path):
    """The builder's commands arrive through the entry point, and its errors print as one line either way."""
    env = {**{k: v for k, v in os.environ.items() if k != "ARCHZOO_DEBUG"}, "ARCHZOO_DB": str(tmp_path / "c.sqlite")}
    listed = subprocess.run([sys.executable, *entry, "list", "--columns", "key"], capture_output=True, text=True, env=env)
    assert listed.returncode == 0 and "llama-2-7b" in listed.stdout
    helped = subprocess.run([sys.executable, *entry, "--help"], capture_output=True, text=True, env=env)
    assert all(command in helped.stdout for command in ("build", "bench", "import-hf"))
    failed = subprocess.run([sys.executable, *entry, "build", "lama-2-7b"], capture_output=True, text=True, env=env)
    assert failed.returncode == 2
    assert failed.stderr.startswith("zoo: unknown model key 'lama-2-7b'") and len(failed.stderr.splitlines()) == 1


def test_tables_fit_the_terminal_and_name_what_they_leave_out(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run(capsys, "list")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100
    assert "left out to fit 100 characters" in err and "layer_pattern" in err
    monkeypatch.delenv("COLUMNS")
    code, out, err = run(capsys, "list")  # not a terminal: every column, nothing left out
    assert code == 0 and "layer_pattern" in out.splitlines()[0] and err == ""


def test_where_takes_the_dashboards_spellings_any_case_and_several_values(capsys):
    def keys(*where):
        code, out, _ = run(capsys, "list", *(arg for item in where for arg in ("--where", item)), "--columns", "key")
        assert code == 0
        return out.split()[2:-2]

    assert keys("norm=RMSNorm") == keys("norm=rmsnorm") == keys("NORM=rmsNORM")
    assert keys("norm_position=pre-norm") == keys("norm_position=pre")
    both = keys("attention=gqa,MQA")
    assert sorted(both) == sorted(keys("attention=grouped-query (GQA)") + keys("attention=mqa"))
    assert keys("organization=meta") and keys("organization=meta") == keys("organization=Meta")
    code, _, err = run(capsys, "list", "--where", "organization=Metaa")
    assert code == 2 and "valid values:" in err and "Meta" in err


def test_catalog_path_and_completion(capsys, tmp_path, isolated_catalog):
    code, out, _ = run(capsys, "catalog", "path")
    assert code == 0 and out.strip() == str(isolated_catalog)
    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0
    (tmp_path / "zoo.bash").write_text(script)

    def complete(*words):
        line = f'source {tmp_path / "zoo.bash"}; COMP_WORDS=({" ".join(words)}); COMP_CWORD={len(words) - 1}; _zoo; ' \
               'echo "${COMPREPLY[@]}"'
        return subprocess.run(["bash", "-c", line], capture_output=True, text=True, check=True).stdout.split()

    assert complete("zoo", "sh") == ["show"]
    assert complete("zoo", "show", "llama-2-7") == ["llama-2-70b", "llama-2-7b"]
    assert complete("zoo", "bench", "gemma-3") == ["gemma-3-27b"]
    assert "--where" in complete("zoo", "list", "--w") and "path" in complete("zoo", "catalog", "")


def test_read_commands_never_import_torch(tmp_path, isolated_catalog):
    """zoo list, show, export and bench --stored run with torch made unimportable."""
    from zoo.catalog import BenchmarkRow, Catalog

    Catalog(isolated_catalog).add_benchmark(BenchmarkRow(
        key="gpt-1", spec_json="{}", mode="forward", batch=1, seq=8, dtype="fp32", device="cpu",
        torch_version="none", created_at="2026-01-01T00:00:00", tokens_per_s=10.0, step_time_median_s=0.1,
        step_time_iqr_s=0.01, flops_per_token=1e6, achieved_flops_per_s=1e7))
    blocker = tmp_path / "blocked" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked in this test')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "blocked"), "ARCHZOO_DB": str(isolated_catalog)}
    for command in (["list"], ["show", "llama-2-7b"], ["export", "--format", "csv"], ["bench", "--stored"]):
        done = subprocess.run([sys.executable, "-m", "zoo", *command], capture_output=True, text=True, env=env)
        assert done.returncode == 0, (command, done.stderr)
    blocked = subprocess.run([sys.executable, "-m", "zoo", "build", "gpt-1"], capture_output=True, text=True, env=env)
    assert blocked.returncode != 0 and "torch is blocked" in blocked.stderr  # the blocker really blocks
