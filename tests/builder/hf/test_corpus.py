"""Published config.json files (tests/builder/hf/corpus, sources in its SOURCES.md) as their authors wrote them.

Each file of a supported type imports; our full-size model built on meta from it has exactly the parameter
count of transformers' own model for the same config; and `zoo import-hf` writes a draft that `zoo validate`
accepts. A file of a type without a table is refused in one line naming its type and the nearest supported one.
"""

from pathlib import Path

import pytest

from builder import build
from builder.hf import NotExpressible, hf_model, spec_from_hf
from builder.hf.config import as_hf_config
from builder.hf.tables import NEAREST, TYPES
from zoo.cli import main
from zoo.specfile import load_spec

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*/*.json"))
SUPPORTED = [path for path in FILES if path.parent.name in TYPES or path.parent.name == "gemma3"]
UNSUPPORTED = [path for path in FILES if path not in SUPPORTED]


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_corpus_covers_its_sources_list():
    listed = (CORPUS / "SOURCES.md").read_text()
    assert FILES and all(f"{path.parent.name}/{path.name}" in listed for path in FILES)


@pytest.mark.parametrize("path", SUPPORTED, ids=_id)
def test_a_published_config_imports_with_transformers_parameter_count(path):
    spec = spec_from_hf(path)
    ours = sum(p.numel() for p in build(spec, device="meta").parameters())
    theirs = sum(p.numel() for p in hf_model(as_hf_config(path), device="meta").parameters())
    assert ours == theirs


@pytest.mark.parametrize("path", SUPPORTED, ids=_id)
def test_import_hf_writes_a_draft_that_validates_and_keeps_the_architecture(path, tmp_path, capsys):
    assert main(["import-hf", str(path), "--specs", str(tmp_path), "--key", "draft"]) == 0
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "draft.toml")]) == 0
    assert capsys.readouterr().out.strip() == "1 spec(s) valid"
    assert load_spec(tmp_path / "draft.toml").architecture == spec_from_hf(path)


def test_every_corpus_file_is_of_a_supported_type():
    assert not UNSUPPORTED, [_id(path) for path in UNSUPPORTED]


@pytest.mark.parametrize("model_type", sorted(NEAREST))
def test_a_type_without_a_table_names_the_nearest_supported_one(model_type):
    nearest, lacks = NEAREST[model_type]
    assert nearest in TYPES and model_type not in TYPES
    with pytest.raises(NotExpressible) as error:
        spec_from_hf({"model_type": model_type})
    assert str(error.value) == f"{model_type}: not supported; the nearest supported type is {nearest}, which lacks {lacks}"
