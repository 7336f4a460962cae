"""`zoo import-hf config.json [--key KEY]`: a draft spec from a transformers config, for a person to finish.

The architecture and params_reference (transformers' own count on the meta device) come from the config.
What a config cannot say (name, organisation, release month, sources, published figures, training facts)
is filled with values that pass `zoo validate` and carry the word PLACEHOLDER, so `grep PLACEHOLDER` lists
every line left to research.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
from pathlib import Path
import re
import tempfile
import tomllib

from builder.hf.tables import NotExpressible
from zoo.cli import UsageError
from zoo.errors import printable
from zoo.schema import KEY_PATTERN, NESTED_FIELDS
from zoo.specfile import parse_record, specs_dir

PLACEHOLDER = "PLACEHOLDER"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)  # a TOML basic string


def _table(values: dict) -> list[str]:
    return [f"{json.dumps(name) if '.' in name else name} = {_toml_value(value)}"
            for name, value in values.items() if value is not None and not isinstance(value, dict)]


def _default_key(config_path: Path, config: dict) -> str:
    name = str(config.get("_name_or_path") or (config_path.parent.name if config_path.is_file() else config_path.name))
    key = re.sub(r"[^a-z0-9._-]+", "-", name.rsplit("/", 1)[-1].lower()).strip("-._")[:64] or "imported-model"
    return key if re.fullmatch(KEY_PATTERN, key) else "imported-model"


def _hub_name(source, config: dict) -> str:
    """The Hub id the config came from: the one given, else the config's _name_or_path, else a placeholder."""
    from builder.hf.config import HUB_ID

    if HUB_ID.fullmatch(str(source)) and not Path(source).exists():
        return str(source)
    return str(config.get("_name_or_path") or PLACEHOLDER)


def _read_config(source: str) -> dict:
    """The parsed config.json (a JSON object) of a path or cached Hub id, or one line saying why not."""
    from builder.hf.config import ConfigNotFound, config_file

    try:
        path = config_file(source)
    except ConfigNotFound as error:
        raise UsageError(f"import-hf: {error}") from None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"import-hf: {path}: cannot read: {error}") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise UsageError(f"import-hf: {path}: not JSON: {str(error)[:200]}") from None
    if not isinstance(config, dict):
        raise UsageError(f"import-hf: {path}: a config.json is a JSON object, got {type(config).__name__}")
    return config


def draft_spec(config_path: str | Path, key: str | None = None) -> tuple[str, str]:
    """(key, TOML text) of a draft spec for a config.json (or a directory holding one).

    The spec is validated (bounded sizes included) before transformers builds the model that counts it."""
    from builder.hf.config import as_hf_config, hf_model, read_hf_config
    from builder.hf.tables import TYPES

    if key is not None and not re.fullmatch(KEY_PATTERN, key):
        raise UsageError(f"import-hf: --key '{printable(key)}' is not a model key "
                         "(lowercase letters, digits, '.', '_' and '-', at most 64)")
    path = Path(config_path)
    config = _read_config(str(config_path))
    try:
        hf_config = as_hf_config(config)
        model_type, arch, placeholders = read_hf_config(hf_config)
    except NotExpressible as error:
        raise UsageError(f"import-hf: {path.name}: {error}") from None
    key = key or _default_key(path, config)
    params = sum(p.numel() for p in hf_model(hf_config, device="meta").parameters())
    model_class = TYPES[model_type].model_class
    today = _dt.date.today()
    architecture = arch.model_dump(mode="json", exclude_defaults=True)
    lines = [
        f"# Draft imported from {path.name} ({model_type}) by `zoo import-hf`.",
        f"# Every value marked {PLACEHOLDER} is not in a config.json: replace it before publishing.",
        f'key = "{key}"',
        f'name = "{key} ({PLACEHOLDER}: the published name)"',
        f'family = "{PLACEHOLDER}: family"',
        f'organization = "{PLACEHOLDER}: organization"',
        f'released = "{today.year:04d}-{today.month:02d}"  # {PLACEHOLDER}: the release month',
        f"params_reference = {params}",
        "multilingual = false  # " + PLACEHOLDER + ": trained for many languages?",
        f'notes = "{PLACEHOLDER}: what is unusual about this architecture"',
        "",
        "[architecture]",
        *_table(architecture),
    ]
    for nested in NESTED_FIELDS:
        if architecture.get(nested):
            lines += ["", f"[architecture.{nested}]", *_table(architecture[nested])]
    lines += ["", "[training]", "", "[citations]",
              f'params_reference = "transformers {model_class} at this config.json, counted on the meta device: {params:,}"']
    if placeholders:
        lines += ["", "[assumed]", *(f'{field} = "{PLACEHOLDER}: {why}"' for field, why in placeholders.items())]
    lines += ["", "[unpublished]",
              *(f'{field} = "{PLACEHOLDER}: not in config.json"'
                for field in ("params_published", "training_tokens", "weight_decay", "optimizer")),
              "", "[[sources]]", f'url = "https://huggingface.co/{_hub_name(config_path, config)}"',
              'kind = "config"', f'title = "{PLACEHOLDER}: the config.json this draft was imported from"', ""]
    return key, "\n".join(lines)


def _write_atomically(target: Path, text: str) -> None:
    """A temporary file beside the target, renamed over it: no reader ever sees half a draft."""
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)


def cmd_import_hf(args) -> int:
    folder = Path(args.specs or specs_dir())
    if args.key is not None and not re.fullmatch(KEY_PATTERN, args.key):
        raise UsageError(f"import-hf: --key '{printable(args.key)}' is not a model key "
                         "(lowercase letters, digits, '.', '_' and '-', at most 64)")
    if not folder.is_dir():
        raise UsageError(f"import-hf: --specs {folder} is not a folder")
    key, text = draft_spec(args.config, args.key)
    target = folder / f"{key}.toml"
    if target.exists() and not args.force:
        raise UsageError(f"import-hf: {target} exists (pass --force to overwrite)")
    parse_record(tomllib.loads(text), str(target))  # the draft validates before it is written
    _write_atomically(target, text)
    left = sum(PLACEHOLDER in line for line in text.splitlines() if not line.startswith("#"))
    print(f"wrote {target}; {left} lines marked {PLACEHOLDER} are left for a person to fill in")
    return 0


def cmd_export_hf(args) -> int:
    """Write the config.json of a catalogued record, as transformers would save it."""
    from builder.hf.config import hf_config_from_spec

    try:
        config = hf_config_from_spec(args.key)
    except NotExpressible as error:
        lines = str(error).splitlines()
        more = f" (and {len(lines) - 2} more model types tried)" if len(lines) > 2 else ""
        raise UsageError(f"export-hf: {args.key}: {' '.join(lines[:2]).replace('  ', ' ')}{more}") from None
    folder = Path(args.output or args.key)
    if not folder.parent.is_dir():
        raise UsageError(f"export-hf: -o {folder}: folder {folder.parent} does not exist")
    folder.mkdir(exist_ok=True)
    target = folder / "config.json"
    _write_atomically(target, config.to_json_string())  # what save_pretrained writes: the non-default keys
    print(f"wrote {target} ({config.model_type})")
    return 0


def register_import_hf(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("import-hf", help="write a draft spec from a transformers config.json")
    command.add_argument("config", help="config.json, the folder holding it, or a Hub id (org/name) in the local "
                                        "Hugging Face cache")
    command.add_argument("--key", help="the new record's key (default: from the config's name or directory)")
    command.add_argument("--specs", help="directory to write KEY.toml into (default: the bundled specs)")
    command.add_argument("--force", action="store_true", help="overwrite an existing spec file")
    command.set_defaults(run=cmd_import_hf)
    export = commands.add_parser("export-hf", help="write the transformers config.json of a catalogued record")
    export.add_argument("key")
    export.add_argument("-o", "--output", help="folder to write config.json into (default: ./KEY)")
    export.set_defaults(run=cmd_export_hf)
