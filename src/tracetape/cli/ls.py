"""``tracetape ls``: the recent traces on a tape as a table."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.text import Text

from tracetape.inspect.frames import TraceFilter
from tracetape.inspect.reader import TapeReader
from tracetape.inspect.render.tables import traces_table
from tracetape.settings import Settings

_WIDE = 110
"""Narrower terminals get the compact table (no start time, no models)."""


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser("ls", help="list the recent traces, newest first")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="at most N traces (20)")
    parser.add_argument("--errors", action="store_true", help="only traces with an error span")
    parser.add_argument(
        "--since", metavar="WHEN", help="started since: an age (1h, 7d) or ISO time"
    )
    parser.add_argument("--until", metavar="WHEN", help="started before: an age or ISO time")
    parser.add_argument("--name", help="the trace's name")
    parser.add_argument("--model", help="a model call used this model")
    parser.add_argument("--tool", help="this tool was called")
    parser.add_argument("--node", help="this LangGraph node ran")
    parser.add_argument("--run", metavar="RUN_ID", help="recorded in this pipeline run")
    parser.add_argument("--tag", help="a span carries this tag")
    parser.add_argument("--search", metavar="TEXT", help="text in any span's input or output")
    return parser


def _filters(args: argparse.Namespace) -> TraceFilter:
    return TraceFilter(
        since=args.since, until=args.until, name=args.name, errors_only=args.errors,
        model=args.model, tool=args.tool, node=args.node, run=args.run, tag=args.tag,
        search=args.search,
    )  # fmt: skip


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the newest ``--limit`` traces that pass the filters."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    filters = _filters(args)
    traces = reader.traces(max(args.limit, 0), filters=filters)
    if traces.empty:
        filtered = filters != TraceFilter(errors_only=args.errors)
        what = "failed traces" if args.errors else "traces"
        console.print(Text(f"no {what}{' that match' if filtered else ''} on {args.path}"))
        return 0
    count = f"{len(traces)} trace{'' if len(traces) == 1 else 's'}"
    title = f"{args.path}: {count}, newest first"
    console.print(traces_table(traces, title=title, compact=console.width < _WIDE))
    return 0
