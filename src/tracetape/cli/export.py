"""``tracetape export``: traces and everything linked to them, as files for another engine.

Example:
    $ tracetape export --format parquet --out exported/
    $ tracetape export --format jsonl --out failed/ --errors --since 7d
    $ tracetape export --format tape --out tests/fixtures/refund.duckdb --trace 4bf92f35...
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tracetape.cli.prune import parse_age
from tracetape.inspect.reader import TapeReader
from tracetape.settings import Settings
from tracetape.store import export


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser(
        "export",
        help="write traces with their spans, scores, blobs, environments, runs and artifacts "
        "as Parquet or JSON lines, or as a new tape file (a test fixture to replay)",
    )
    parser.add_argument("--format", choices=export.FORMATS, default="parquet")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder; with --format tape, the new tape file",
    )
    parser.add_argument(
        "--trace",
        action="append",
        metavar="ID",
        help="only this trace, by id or a unique prefix (repeatable)",
    )
    parser.add_argument(
        "--since", type=parse_age, metavar="AGE", help="only traces started within AGE (7d)"
    )
    parser.add_argument("--errors", action="store_true", help="only traces with an error span")
    return parser


def _selected(args: argparse.Namespace, reader: TapeReader) -> list[str] | None:
    if args.trace:  # whole ids, or unique prefixes as `show` takes
        args.trace = [reader.resolve(t.strip().lower()) for t in args.trace]
    if args.since is None and not args.errors:
        return args.trace
    where = ["true"]
    params: list[object] = []
    if args.since is not None:
        where.append("start_time >= ?")
        params.append(dt.datetime.now(dt.UTC) - args.since)
    if args.errors:
        where.append("status = 'error'")
    if args.trace:
        where.append("trace_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(args.trace)
    frame = reader.sql(f"SELECT trace_id FROM traces WHERE {' AND '.join(where)}", params)
    return [str(t) for t in frame["trace_id"]]


def run(args: argparse.Namespace, console: Console) -> int:
    """Export, then print the rows written per file."""
    timeout = Settings.from_env().lock_timeout
    ids = _selected(args, TapeReader(args.path, timeout))
    written = export.export(args.path, timeout, args.out, fmt=args.format, trace_ids=ids)
    table = Table(title=f"{args.out}: {args.format}", title_justify="left")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for view, rows in written.items():
        table.add_row(view if args.format == "tape" else f"{view}.{args.format}", str(rows))
    console.print(table)
    return 0
