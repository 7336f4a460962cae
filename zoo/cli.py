"""The `zoo` command line: list, show, export, validate and build the catalog, plus the commands of
installed extensions (the builder's `build`, `bench` and `import-hf`).

Extensions register through the `archzoo.commands` entry-point group: each entry is a function that adds
subcommands to the parser, so this module names no extension and the catalog never imports the builder.
Every failure the user can cause is a ZooError and ends in one line per problem on stderr and a non-zero
exit, never a traceback (set ARCHZOO_DEBUG=1 to see one for an unexpected error).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import warnings
from importlib.metadata import entry_points
from pathlib import Path

from zoo.accounting import explain_gap
from zoo.catalog import Catalog, StaleCatalogWarning, build_catalog, default_path
from zoo.columns import CONTRACT_COLUMNS
from zoo.completion import SHELLS, completion_script
from zoo.completion import __doc__ as completion_doc
from zoo.display import format_value, print_table
from zoo.errors import ZooError, did_you_mean, printable
from zoo.specfile import SpecError, load_specs, spec_paths

COMMAND_ENTRY_POINTS = "archzoo.commands"
_show_warning = warnings.showwarning

LIST_COLUMNS = ("key", "released", "organization", "arch", "params_published", "d_model", "n_layers",
                "norm", "norm_position", "activation", "position", "attention", "layer_pattern")


class UsageError(ZooError):
    """A command-line argument that cannot be used as given."""


def _catalog(args) -> Catalog:
    return Catalog(args.db)


def _parse_where(items: list[str]) -> dict[str, list[str]]:
    """COLUMN=VALUE[,VALUE...] items (repeatable) -> {column: values}; the catalog checks names and values."""
    filters: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        values = [part for part in value.split(",") if part.strip()]
        if not sep or not name.strip() or not values:
            raise UsageError(f"--where takes COLUMN=VALUE[,VALUE...], got '{item}'")
        filters.setdefault(name.strip().lower(), []).extend(values)
    return filters


def _print_rows(rows: list[dict], columns: tuple[str, ...]) -> None:
    cells = [[format_value(row[column]) for column in columns] for row in rows]
    print_table(cells, columns, numeric=[CONTRACT_COLUMNS[column] in (int, float) for column in columns])


def cmd_list(args) -> int:
    catalog = _catalog(args)
    columns = tuple(column.strip() for column in args.columns.split(",")) if args.columns else LIST_COLUMNS
    unknown = [c for c in columns if c not in CONTRACT_COLUMNS]
    if unknown:
        raise UsageError(f"--columns: unknown column(s) {', '.join(unknown)}"
                         f"{did_you_mean(unknown[0], CONTRACT_COLUMNS)}")
    keys = {r.key for r in catalog.where(year_from=args.since, year_to=args.until, **_parse_where(args.where))}
    rows = [row for row in catalog.rows() if row["key"] in keys]
    if not rows:
        print("no models match", file=sys.stderr)
        return 1
    _print_rows(rows, columns)
    print(f"\n{len(rows)} model(s)")
    return 0


def cmd_show(args) -> int:
    catalog = _catalog(args)
    record = catalog.get(args.key)
    row = next(r for r in catalog.rows() if r["key"] == args.key)
    print(printable(f"{record.name} ({record.key}) - {record.organization}, {record.released}"))
    width = max(len(c) for c in CONTRACT_COLUMNS)
    for column in CONTRACT_COLUMNS:
        if column == "sources":
            continue
        value = format_value(row[column]) if column not in ("params_published", "params_total", "params_active") \
            else ("-" if row[column] is None else f"{row[column]:,}")
        field = {"chunked_attention": "local_attention", "n_experts": "moe.n_experts",
                 "experts_per_token": "moe.experts_per_token", "n_shared_experts": "moe.n_shared_experts"}.get(column, column)
        reason = (record.citations.get(field) or (f"assumed: {record.assumed[field]}" if field in record.assumed else "")
                  or (f"unpublished: {record.unpublished[field]}" if field in record.unpublished else ""))
        print(printable(f"  {column.ljust(width)}  {value}" + (f"    [{reason}]" if reason else "")))
    explain = _params_gap(record, row)
    if explain:
        print(f"\nparameters: {explain}")
    print("\nsources:")
    for source in record.sources:
        print(printable(f"  [{source.kind.value}] {source.title}: {source.url}"))
    if record.notes.strip():
        print("\nnotes: " + "\n".join(printable(line) for line in record.notes.strip().splitlines()))
    return 0


def _params_gap(record, row) -> str:
    """Why the computed count differs from the published one, from zoo.accounting."""
    total, published = row["params_total"], record.params_published
    if total is None or published is None:
        return ""
    gap = (total - published) / published
    text = f"computed {total:,} vs published {published:,} ({gap:+.2%})"
    reasons = explain_gap(record)
    return text + (": " + "; ".join(reasons) if reasons else "")


def cmd_export(args) -> int:
    rows = _catalog(args).rows()
    if args.format == "json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(CONTRACT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else " ".join(v) if isinstance(v, list) else v) for k, v in row.items()})
        text = buffer.getvalue()
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {len(rows)} records to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_validate(args) -> int:
    paths = [Path(p) for p in args.files] if args.files else spec_paths()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SpecError([f"{p}: (file): no such file" for p in missing])
    records = load_specs(paths)
    print(f"{len(records)} spec(s) valid")
    return 0


def cmd_memory(args) -> int:
    """Per-rank bytes of one architecture, part by part, whether it fits a GPU, and the fewest that do."""
    from zoo.memory import GIB, GPUS, MemoryQuestion, fewest_gpus, plan_memory
    from zoo.variants import resolve_variant

    arch = resolve_variant(args.key, args.scale).architecture
    question = MemoryQuestion(mode=args.mode, dtype=args.dtype, gpus=args.gpus, tp=args.tp, batch=args.batch,
                              seq=args.seq, checkpoint=args.checkpoint)
    plan = plan_memory(arch, question)
    fewest = fewest_gpus(arch, question, args.gpu)
    if args.json:
        print(json.dumps({
            "key": args.key, "scale": args.scale, **question.__dict__, "seq": plan.seq, "params": plan.params,
            "parts": [{"name": p.name, "bytes": p.bytes, "basis": p.basis, "how": p.how} for p in plan.parts],
            "total_bytes": plan.total, "gpu": args.gpu, "gpu_bytes": GPUS[args.gpu] * GIB,
            "fits": plan.fits(args.gpu), "fewest_gpus": fewest}, indent=2))
        return 0
    ranks = f"{question.gpus} GPU{'s' if question.gpus > 1 else ''}" + (f", tp {question.tp}" if question.tp > 1 else "")
    print(f"{args.key}: {question.mode}, {question.dtype}, batch {question.batch} x seq {plan.seq:,} per rank, {ranks}"
          + (", activation checkpointing" if question.checkpoint and question.mode == "train" else ""))
    cells = [[p.name, f"{p.bytes / GIB:,.2f}", p.basis, p.how] for p in plan.parts]
    cells.append(["total per rank", f"{plan.total / GIB:,.2f}", "", ""])
    print_table(cells, ("part", "GiB", "basis", "how"), numeric=[False, True, False, False])
    verdict = "fits" if plan.fits(args.gpu) else "does not fit"
    print(f"{verdict} one {args.gpu} ({GPUS[args.gpu]} GiB, datasheet; the CUDA context and fragmentation take some)")
    if fewest is None:
        print(f"no number of {args.gpu} GPUs fits: what does not shrink with more ranks (activations at this batch and "
              f"sequence) is already too large; try --checkpoint, a larger --tp, or a smaller --batch or --seq")
    else:
        print(f"fewest {args.gpu} GPUs that fit: {fewest}" + (f" (tp {question.tp})" if question.tp > 1 else ""))
    return 0


def cmd_catalog_path(args) -> int:
    print(Path(args.db) if args.db else default_path())
    return 0


def cmd_catalog_build(args) -> int:
    path = Path(args.db) if args.db else default_path()
    count = build_catalog(path, Path(args.specs) if args.specs else None)
    print(f"built {path} from {count} spec(s)")
    return 0


def _memory_doc() -> str:
    from zoo import memory

    return memory.__doc__


def _gpu_names() -> tuple[str, ...]:
    from zoo.memory import GPUS

    return tuple(GPUS)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="Query and build the archzoo catalog of LM architectures.")
    parser.add_argument("--db", help=f"catalog database (default: ${'ARCHZOO_DB'} or {default_path()})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="a table of models, optionally filtered")
    listing.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE[,VALUE...]",
                         help="keep rows whose column holds one of the values; any case, stored spellings or "
                              "the dashboard's labels (norm=RMSNorm, attention=gqa,mqa); repeatable")
    listing.add_argument("--since", type=int, metavar="YEAR", help="released in or after YEAR")
    listing.add_argument("--until", type=int, metavar="YEAR", help="released in or before YEAR")
    listing.add_argument("--columns", help="comma-separated columns to show")
    listing.set_defaults(run=cmd_list)

    show = commands.add_parser("show", help="every field of one model with its source")
    show.add_argument("key")
    show.set_defaults(run=cmd_show)

    export = commands.add_parser("export", help="all rows as JSON or CSV")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", help="write to this file instead of stdout")
    export.set_defaults(run=cmd_export)

    validate = commands.add_parser("validate", help="check spec files (default: all bundled specs)")
    validate.add_argument("files", nargs="*")
    validate.set_defaults(run=cmd_validate)

    memory = commands.add_parser("memory", help="per-GPU memory to train or serve a model, and how many GPUs it needs",
                                 description=_memory_doc())
    memory.add_argument("key", help="record key, optionally with overrides: KEY:FIELD=VALUE[,FIELD=VALUE]")
    memory.add_argument("--scale", choices=("tiny", "small", "1b"), help="a scaled proxy (default: full size)")
    memory.add_argument("--mode", choices=("train", "infer"), default="train")
    memory.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16", help="compute dtype")
    memory.add_argument("--gpus", type=int, default=1, help="ranks the model is sharded over (FSDP2 x tensor parallel)")
    memory.add_argument("--tp", type=int, default=1, help="tensor-parallel degree (divides --gpus)")
    memory.add_argument("--gpu", default="h100", choices=_gpu_names(), help="the GPU to fit (default: h100)")
    memory.add_argument("--batch", type=int, default=1, help="sequences per data-parallel rank")
    memory.add_argument("--seq", type=int, help="tokens per sequence (default: the context length)")
    memory.add_argument("--checkpoint", action="store_true", help="activation checkpointing per block (train)")
    memory.add_argument("--json", action="store_true", help="print the figures as JSON")
    memory.set_defaults(run=cmd_memory)

    catalog = commands.add_parser("catalog", help="catalog maintenance")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    build = catalog_commands.add_parser("build", help="rebuild the SQLite catalog from the spec files")
    build.add_argument("--db", default=argparse.SUPPRESS, help="where to write the catalog")
    build.add_argument("--specs", help="spec directory (default: the bundled specs)")
    build.set_defaults(run=cmd_catalog_build)
    where = catalog_commands.add_parser("path", help="print where the catalog lives")
    where.set_defaults(run=cmd_catalog_path)

    for extension in sorted(entry_points(group=COMMAND_ENTRY_POINTS), key=lambda entry: entry.name):
        extension.load()(commands)

    completion = commands.add_parser("completion", help="print a shell completion script (bash or zsh)",
                                     description=completion_doc)
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(run=lambda args: print(completion_script(parser, args.shell), end="") or 0)
    return parser


def _warn_in_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """The CLI's warnings: the catalog's own as one line, any other as Python shows it."""
    if issubclass(category, StaleCatalogWarning):
        print(f"zoo: warning: {printable(str(message))}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_in_one_line
            return args.run(args)
    except ZooError as error:
        for line in error.lines():
            print(line, file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception as error:  # an unexpected failure: one line, with a way to see more
        if os.environ.get("ARCHZOO_DEBUG"):
            raise
        print(f"zoo: {type(error).__name__}: {error} (set ARCHZOO_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
