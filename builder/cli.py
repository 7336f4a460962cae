"""`zoo build KEY [--scale tiny|small|1b|N] [--device meta|cpu|cuda]`: registered into zoo's CLI."""

from __future__ import annotations

import argparse


def _scale_target(value: str) -> str | int:
    return int(value.replace("_", "")) if value.replace("_", "").isdigit() else value


def cmd_build(args) -> int:
    """Build the model (meta unless told otherwise) and print its module summary and counts."""
    from zoo.cli import UsageError

    from builder.construct import ModelTooLargeError, build, describe
    from builder.resolve import UnknownSpecError
    from builder.scaling import scale

    try:
        spec = args.key if args.scale is None else scale(args.key, _scale_target(args.scale))
        model = build(spec, device=args.device)
    except (UnknownSpecError, ModelTooLargeError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(describe(model))
    return 0


def register_commands(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser("build", help="build a model and print its modules, parameter counts and KV cache")
    build.add_argument("key")
    build.add_argument("--scale", help="a proxy: tiny, small, 1b or a parameter count")
    build.add_argument("--device", default="meta", help="meta (default, no memory), cpu or cuda")
    build.set_defaults(run=cmd_build)

    from builder.bench_cli import register_bench

    register_bench(commands)

    from builder.hf_cli import register_import_hf

    register_import_hf(commands)
