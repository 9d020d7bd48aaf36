"""``tracetape diff A B``: what changed between two traces, two runs or two environments.

Example:
    $ tracetape diff run-1f0c... run-9ab2...
    $ tracetape diff run-1f0c... run-9ab2... --traces   # which trace pairs behaved differently
    $ tracetape diff 4bf92f35 77c1e0aa --format json
    $ tracetape diff env-3f2a... env-8d11... --exit-code
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from tracetape.diff import Diff, Source, diff
from tracetape.inspect.reader import TapeReader
from tracetape.inspect.render.text import value as cell
from tracetape.settings import Settings

DIFFERENT = 1


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser(
        "diff", help="what changed between two traces, runs or environments (causes, effects)"
    )
    for side in ("A", "B"):
        parser.add_argument(
            side.lower(),
            metavar=side,
            help="a trace id (or unique prefix), a run id (run-...) or an environment id (env-...)",
        )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default): causes with their effects; json: one record per change",
    )
    parser.add_argument(
        "--traces",
        action="store_true",
        help="one row per aligned trace pair: whether it behaved differently, effects by type",
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit with status 1 when anything but timings and context differs "
        "(as git diff --exit-code)",
    )
    return parser


_ID_CHARS = 12
"""Trace ids shown in the pairs table: a unique prefix, as `tracetape show` takes."""


def _traces_table(result: Diff) -> Table:
    frame = result.traces()
    table = Table(title=f"trace pairs of {result.a} ↔ {result.b}", title_justify="left")
    ids = [str(c) for c in frame.columns if str(c).startswith("trace_id")]
    for column in frame.columns:
        table.add_column(  # spaced headers wrap instead of being cut on a narrow terminal
            str(column).replace("_", " "),
            justify="left" if column.startswith(("trace", "changed")) else "right",
        )
    for row in frame.to_dict("records"):
        table.add_row(
            *(
                "—" if cell(v) is None else str(v)[:_ID_CHARS] if k in ids else str(v)
                for k, v in row.items()
            )
        )
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the diff; two ids of different kinds raise `DiffError`."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    result = diff(Source(reader.arrow, scoped=True), args.a, args.b)
    frame = result.traces() if args.traces else result.to_frame()
    if args.format == "json":
        console.print_json(frame.to_json(orient="records", force_ascii=False))
    elif args.traces:
        console.print(_traces_table(result))
    else:
        console.print(result)
    return DIFFERENT if args.exit_code and not result.is_empty else 0
