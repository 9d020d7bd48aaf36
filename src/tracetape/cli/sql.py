"""``tracetape sql "QUERY"``: SQL over the tape's public views, printed as a table."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tracetape.inspect.reader import TapeReader
from tracetape.inspect.render.tables import frame_table
from tracetape.settings import Settings


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser(
        "sql",
        help="run SQL over the public views (spans, traces, environments, blobs)",
    )
    parser.add_argument(
        "query", metavar="QUERY", help='e.g. "select kind, count(*) from spans group by kind"'
    )
    parser.add_argument(
        "--max-chars", type=int, default=120, metavar="N", help="cut cells to N characters (120)"
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the query's result; DuckDB errors reach `main` as one-line SQL errors."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    frame = reader.sql(args.query)
    console.print(frame_table(frame, max_chars=max(args.max_chars, 8)))
    return 0
