"""``tracetape env export ID``: a recorded environment as a pinned requirements file.

ID is an environment id (``env-...``) or a run, trace or span id whose environment is
meant. Without ``--out`` the file is printed.

Example:
    $ tracetape env export run-1f0c... --out requirements.txt
    $ pip install -r requirements.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from tracetape.diff.requirements import requirements
from tracetape.diff.sides import environment_of
from tracetape.inspect.reader import TapeReader
from tracetape.settings import Settings


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb and its one sub-verb, ``export``."""
    parser = verbs.add_parser("env", help="recorded environments: export one as requirements")
    actions = parser.add_subparsers(dest="env_action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="write a snapshot's installed packages as name==version lines"
    )
    export.add_argument(
        "id", metavar="ID", help="an environment id (env-...), or a run, trace or span id"
    )
    export.add_argument("--out", type=Path, metavar="FILE", help="write here (default: print)")
    export.add_argument("--path", type=Path, default=argparse.SUPPRESS, help="the tape file")
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Write (or print) the pinned requirements of the environment ``args.id`` names."""
    reader = TapeReader(args.path, Settings.from_env().lock_timeout)
    environment_id = environment_of(reader.arrow, args.id)
    text = requirements(reader.environment(environment_id))
    if args.out is None:
        console.out(text, end="", highlight=False)
        return 0
    args.out.write_text(text, encoding="utf-8")
    count = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    console.print(f"wrote {count} pinned packages of {environment_id} to {args.out}")
    return 0
