"""``tracetape replay ID --app module:attr``: replay a recorded trace through the app.

The app is the user's runnable or compiled graph, or a LlamaIndex query engine, chat
engine, agent or workflow (or a function without arguments that builds one), imported
by ``module:attr`` (from the current folder or the path) or ``path/to/file.py:attr``.
Prints the divergences, if any, then what changed against the original: whether the
output is the same, the new trace id, and how many calls were answered from the tape or
ran live.

Exit status: 0 when the replay matched the recording (no divergence, the same output),
1 when it diverged or its output differs, 2 for an error a user can act on.

Example:
    $ tracetape replay 4bf92f35 --app support.agent:graph
    $ tracetape replay 4bf92f35 --app agents/support.py:build_graph --live llm
    $ tracetape replay 4bf92f35 --app support.agent:graph --from-step 3
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.markup import escape

from tracetape.errors import TracetapeError
from tracetape.inspect.reader import TapeReader
from tracetape.replay import Divergence, Replay, ReplayDivergence
from tracetape.settings import Settings


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Register the verb."""
    parser = verbs.add_parser(
        "replay", help="re-run a recorded trace through the app, answered from the tape"
    )
    parser.add_argument("trace_id", metavar="ID", help="a trace id, or a unique prefix of one")
    parser.add_argument(
        "--app",
        required=True,
        metavar="MODULE:ATTR",
        help="the runnable, compiled graph or LlamaIndex app: module:attr or path/to/file.py:attr",
    )
    parser.add_argument(
        "--live",
        action="append",
        default=[],
        metavar="WHAT",
        help="run for real: llm, retriever, tool or a tool name (repeatable, or a,b)",
    )
    parser.add_argument(
        "--from-step", type=int, metavar="N", help="resume a LangGraph graph at step N"
    )
    parser.add_argument(
        "--on-divergence",
        choices=("stop", "live"),
        default="stop",
        help="at the first divergence: stop (default), or go live from there on",
    )
    parser.add_argument(
        "--async",
        dest="use_async",
        action="store_true",
        help="run the app with ainvoke (aquery, achat)",
    )
    return parser


def _module(spec: str) -> ModuleType:
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise TracetapeError(f"--app: no file {spec}")
        name = f"tracetape_app_{path.stem}"
        found = importlib.util.spec_from_file_location(name, path)
        if found is None or found.loader is None:
            raise TracetapeError(f"--app: cannot import {spec}")
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent))  # its own sibling modules import too
        found.loader.exec_module(module)
        return module
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would
    return importlib.import_module(spec)


def load_app(spec: str) -> Any:
    """The object ``module:attr`` names (called first if it is a function that builds
    the app); raises `TracetapeError` with one line for anything the user can fix."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise TracetapeError(f"--app takes module:attr or path/to/file.py:attr, not {spec!r}")
    try:
        module = _module(where)
    except ImportError as exc:
        raise TracetapeError(f"--app: cannot import {where}: {exc}") from exc
    app: Any = module
    for part in attr.split("."):
        if not hasattr(app, part):
            raise TracetapeError(f"--app: {where} has no attribute {attr!r}")
        app = getattr(app, part)
    if not _is_app(app) and callable(app):
        app = app()
    if not _is_app(app):
        raise TracetapeError(
            f"--app: {spec} is not a runnable or graph (it has no invoke), nor a LlamaIndex "
            "query engine, chat engine, agent or workflow"
        )
    return app


def _is_app(app: Any) -> bool:
    """A LangChain runnable or graph, or an app LlamaIndex replay takes."""
    from tracetape.replay.llamaindex import handles  # imports no LlamaIndex itself

    return hasattr(app, "invoke") or handles(app)


def _live(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def _print_divergence(console: Console, divergence: Divergence) -> None:
    head, *diff = str(divergence).splitlines()
    console.print(f"[bold yellow]{escape(head)}[/]", highlight=False, soft_wrap=True)
    for line in diff:
        style = "red" if line.startswith("-") else "green" if line.startswith("+") else "dim"
        console.print(f"  [{style}]{escape(line)}[/]", highlight=False, soft_wrap=True)


def _summary(console: Console, trace_id: str, result: Replay | None, stopped: bool) -> None:
    if result is None:
        return
    console.print(f"replay of {trace_id}: trace {result.trace_id}", highlight=False)
    console.print(
        f"  calls: {result.from_tape} answered from the tape, {result.ran_live} live",
        highlight=False,
    )
    if stopped and result.output is None:
        output = "[yellow]none[/] (stopped at the divergence)"
    elif result.same_output is None:
        output = "not compared (the recording kept no comparable output)"
    elif result.same_output:
        output = "[green]same as recorded[/]"
    else:
        output = "[red]differs from the recorded one[/]"
    console.print(f"  output: {output}", highlight=False)


def run(args: argparse.Namespace, console: Console) -> int:
    """Replay, print the divergence and the summary; 0 same, 1 changed."""
    from tracetape.tape import open_tape

    # Resolved first: an unknown id or a missing tape fails before the app is imported
    # (and before opening the tape could create one).
    trace_id = TapeReader(args.path, Settings.from_env().lock_timeout).resolve(args.trace_id)
    app = load_app(args.app)
    options: dict[str, Any] = {
        "live": _live(args.live),
        "on_divergence": args.on_divergence,
        "from_step": args.from_step,
    }
    tape = open_tape(args.path)
    result: Replay | None = None
    stopped: Divergence | None = None
    try:
        if args.use_async:
            result = asyncio.run(tape.areplay(trace_id, app, **options))
        else:
            result = tape.replay(trace_id, app, **options)
    except ReplayDivergence as exc:
        result, stopped = exc.replay, exc.divergence
    finally:
        tape.close()
    divergences = result.divergences if result is not None else [stopped] if stopped else []
    for divergence in divergences:
        _print_divergence(console, divergence)
    _summary(console, trace_id, result, stopped is not None)
    same = result is not None and not result.divergences and result.same_output is not False
    return 0 if same and stopped is None else 1
