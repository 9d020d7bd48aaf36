"""``tracetape ls``: the recent traces on a tape as a table."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.text import Text

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
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the newest ``--limit`` traces (only failed ones with ``--errors``)."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    traces = reader.traces(max(args.limit, 0), errors_only=args.errors)
    if traces.empty:
        what = "failed traces" if args.errors else "traces"
        console.print(Text(f"no {what} on {args.path}"))
        return 0
    count = f"{len(traces)} trace{'' if len(traces) == 1 else 's'}"
    title = f"{args.path}: {count}, newest first"
    console.print(traces_table(traces, title=title, compact=console.width < _WIDE))
    return 0
