"""``tracetape prune``: delete old traces (or given ones) and everything linked only to them.

Example:
    $ tracetape prune --older-than 30d --dry-run
    $ tracetape prune --older-than 30d
    $ tracetape prune --trace 4bf92f3577b34da6a3ce929d0e0e4736
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import Any

from rich.console import Console
from rich.table import Table

from tracetape.errors import TracetapeError
from tracetape.settings import Settings
from tracetape.store import retention

_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` -> a timedelta (argparse type).

    Example:
        >>> parse_age("30d")
        datetime.timedelta(days=30)
    """
    match = _AGE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age: a number and a unit, e.g. 30d, 12h, 90m, 45s, 2w"
        )
    return dt.timedelta(**{_UNITS[match[2]]: float(match[1])})


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser(
        "prune", help="delete old traces and everything linked only to them (for good)"
    )
    parser.add_argument(
        "--older-than",
        type=parse_age,
        metavar="AGE",
        help="traces that ended more than AGE ago (30d, 12h, 90m, 45s, 2w)",
    )
    parser.add_argument(
        "--trace", action="append", metavar="ID", help="a trace id to delete (repeatable)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    parser.add_argument(
        "--no-compact",
        action="store_true",
        help="skip rewriting the file (faster; deleted bytes may stay in it until reused)",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Delete, then print what went (or would go, with ``--dry-run``)."""
    if args.older_than is None and not args.trace:
        raise TracetapeError("say what to prune: --older-than AGE and/or --trace ID")
    deleted = retention.delete(
        args.path,
        Settings.from_env().lock_timeout,
        trace_ids=args.trace,
        older_than=args.older_than,
        dry_run=args.dry_run,
        compact_file=not args.no_compact,
    )
    verb = "would delete" if deleted.dry_run else "deleted"
    table = Table(title=f"{args.path}: {verb}", title_justify="left")
    for column in ("traces", "spans", "scores", "blobs", "environments"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            str(n)
            for n in (
                deleted.traces,
                deleted.spans,
                deleted.scores,
                deleted.blobs,
                deleted.environments,
            )
        )
    )
    console.print(table)
    return 0
