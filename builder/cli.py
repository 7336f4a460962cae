"""The builder's `zoo` subcommands (`build`, `bench`, `import-hf`), registered through the `archzoo.commands`
entry point, so the catalog's command line composes them without importing the builder."""

from __future__ import annotations

import argparse

from builder.bench.cli import register_bench
from builder.hf.cli import register_import_hf
from zoo.cli import UsageError


def _scale_target(value: str) -> str | int:
    return int(value.replace("_", "")) if value.replace("_", "").isdigit() else value


def cmd_build(args) -> int:
    """Build the model (meta unless told otherwise) and print its module summary and counts."""
    from builder.construct import build, describe
    from zoo.variants import resolve_variant

    try:
        variant = resolve_variant(args.key, None if args.scale is None else _scale_target(args.scale))
        model = build(variant, device=args.device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(describe(model))
    return 0


def register_commands(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build a model and print its modules, parameter counts and KV cache")
    build.add_argument("key", help="record key, optionally with overrides: KEY:FIELD=VALUE[,FIELD=VALUE]")
    build.add_argument("--scale", help="a proxy: tiny, small, 1b or a parameter count")
    build.add_argument("--device", default="meta", help="meta (default, no memory), cpu or cuda")
    build.set_defaults(run=cmd_build)
    register_bench(commands)
    register_import_hf(commands)
