"""``tracetape diff A B``: what changed between two traces, two runs or two environments.

Example:
    $ tracetape diff run-1f0c... run-9ab2...
    $ tracetape diff 4bf92f35 77c1e0aa --format json
    $ tracetape diff env-3f2a... env-8d11... --exit-code
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tracetape.diff import Source, diff
from tracetape.inspect.reader import TapeReader
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
        "--exit-code",
        action="store_true",
        help="exit with status 1 when anything but timings differs (as git diff --exit-code)",
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the diff; two ids of different kinds raise `DiffError`."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    result = diff(Source(reader.arrow), args.a, args.b)
    if args.format == "json":
        console.print_json(result.to_frame().to_json(orient="records", force_ascii=False))
    else:
        console.print(result)
    return DIFFERENT if args.exit_code and not result.is_empty else 0
