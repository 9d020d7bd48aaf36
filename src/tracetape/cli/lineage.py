"""``tracetape lineage ID``: what a span, trace, run or artifact came from and what came
of it — a tree (default), the edges as a table, or OpenLineage events as JSON lines."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tracetape.inspect.reader import TapeReader
from tracetape.inspect.render.tables import frame_table
from tracetape.lineage import lineage
from tracetape.settings import Settings


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser(
        "lineage", help="show what a span, trace, run or artifact came from and what came of it"
    )
    parser.add_argument(
        "node_id",
        metavar="ID",
        help="a span (16 hex), trace (32 hex or a prefix), run (run-...), artifact "
        "(sha256:...) or environment (env-...) id",
    )
    parser.add_argument(
        "--format",
        choices=("tree", "edges", "openlineage"),
        default="tree",
        help="tree (default), edges (a table), openlineage (RunEvents as JSON lines)",
    )
    parser.add_argument(
        "--start",
        action="store_true",
        help="with --format openlineage, also a START event before each run's and trace's end",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the lineage; unknown ids raise `NotFoundError`, bad ids `ValueError`."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    reader.sql("SELECT 1")  # no tape -> TapeError, a one-line message
    try:
        found = lineage(reader.arrow, args.node_id, where=str(args.path))
    except ValueError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    if args.format == "edges":
        console.print(frame_table(found.edges, max_chars=80))
    elif args.format == "openlineage":
        events = found.to_openlineage(start=args.start)  # needs the [lineage] extra
        from openlineage.client.serde import Serde

        for event in events:
            console.out(Serde.to_json(event), highlight=False)
    else:
        console.print(found.tree())
    return 0
