"""``tracetape``: the command-line entry point; one module per verb, dispatched here.

Every verb is ``run(args, console) -> exit code``. Errors a user can act on (no tape,
unknown id, a tape held by another process, bad SQL) print one line to stderr and exit
with status 2; no traceback.

Example:
    $ tracetape demo
    $ tracetape ls --errors
    $ tracetape show 4bf92f35 --full
    $ tracetape sql "select kind, count(*) from spans group by kind"
    $ tracetape export --format parquet --out exported/
    $ tracetape prune --older-than 30d
    $ tracetape diff run-1f0c... run-9ab2...
    $ tracetape env export run-1f0c... --out requirements.txt
    $ tracetape lineage 00f067aa0ba902b7 --format openlineage
    $ tracetape replay 4bf92f35 --app support.agent:graph --live llm
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.markup import escape

from tracetape.cli import demo, diff, env, export, lineage, ls, prune, replay, show, sql
from tracetape.errors import TracetapeError
from tracetape.settings import DEFAULT_PATH

USAGE_ERROR = 2
INTERRUPTED = 130

Verb = Callable[[argparse.Namespace, Console], int]
AddParser = Callable[[Any], argparse.ArgumentParser]
_VERBS: dict[str, tuple[AddParser, Verb]] = {
    "demo": (demo.add_parser, demo.run),
    "ls": (ls.add_parser, ls.run),
    "show": (show.add_parser, show.run),
    "sql": (sql.add_parser, sql.run),
    "export": (export.add_parser, export.run),
    "prune": (prune.add_parser, prune.run),
    "diff": (diff.add_parser, diff.run),
    "env": (env.add_parser, env.run),
    "lineage": (lineage.add_parser, lineage.run),
    "replay": (replay.add_parser, replay.run),
}


def default_path() -> Path:
    """``$TRACETAPE_PATH`` or ``./.tracetape/tape.duckdb``."""
    return Path(os.environ.get("TRACETAPE_PATH") or DEFAULT_PATH)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb (``--path`` accepted before or after the verb)."""
    parser = argparse.ArgumentParser(
        prog="tracetape",
        description="A flight recorder for GenAI agents: look into a tape from the shell.",
    )
    parser.add_argument(
        "--path",
        type=Path,
        default=None,
        help="the tape file (default: $TRACETAPE_PATH or ./.tracetape/tape.duckdb)",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for add_parser, _ in _VERBS.values():
        sub = add_parser(verbs)
        sub.add_argument("--path", type=Path, default=argparse.SUPPRESS, help="the tape file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tracetape`` command; returns (and, as a script, exits with) its status."""
    args = build_parser().parse_args(argv)
    if args.path is None:
        args.path = default_path()
    console = Console()
    errors = Console(stderr=True)
    try:
        return _VERBS[args.verb][1](args, console)
    except TracetapeError as exc:
        errors.print(
            f"[bold red]error:[/] {escape(_one_line(exc))}", highlight=False, soft_wrap=True
        )
    except duckdb.Error as exc:
        # DuckDB's messages add the query and a caret on later lines; the first says it.
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        errors.print(
            f"[bold red]SQL error:[/] {escape(_one_line(first))}", highlight=False, soft_wrap=True
        )
    except KeyboardInterrupt:
        errors.print("interrupted")
        return INTERRUPTED
    return USAGE_ERROR


def _one_line(message: object) -> str:
    text = " ".join(str(message).split())
    return text or type(message).__name__
