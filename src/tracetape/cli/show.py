"""``tracetape show ID``: one trace as a span tree."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tracetape.inspect.reader import TapeReader
from tracetape.settings import Settings


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser("show", help="show one trace as a span tree")
    parser.add_argument("trace_id", metavar="ID", help="a trace id, or a unique prefix of one")
    parser.add_argument("--full", action="store_true", help="add every span's input and output")
    parser.add_argument(
        "--max-chars",
        type=int,
        default=800,
        metavar="N",
        help="with --full, cut each input/output to N characters (marked; default 800)",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the trace's span tree; unknown ids raise `NotFoundError`."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    trace = reader.trace(args.trace_id)
    console.print(trace.tree(full=args.full, max_chars=max(args.max_chars, 16)))
    return 0
