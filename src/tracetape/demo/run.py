"""`run_demo`: record the demo agent answering three questions, then show the tape.

Library code: everything it shows goes through the rich ``Console`` it is given.
"""

from __future__ import annotations

import shlex
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.text import Text

import tracetape
from tracetape.demo.agent import GRAPH_NAME, build_agent
from tracetape.inspect.reader import TapeReader
from tracetape.inspect.trace import Trace
from tracetape.settings import DEFAULT_PATH
from tracetape.spans import semconv

QUESTIONS: Final = (
    "How long is shipping to Canada, and what is 3 * 12.50?",
    "Where is my order A-1042?",
    "Can you check order Z-9999 for me?",
)
"""One question per trace; the last makes ``lookup_order`` fail on purpose."""


@dataclass
class DemoRun:
    """What one demo run recorded: the tape, and per question its trace id and answer."""

    path: Path
    trace_ids: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    spans: int = 0


def record(path: Path) -> DemoRun:
    """Run the agent on every question into the tape at ``path``; flush; close it.

    Example:
        >>> run = record(Path("/tmp/demo.duckdb"))
        >>> len(run.trace_ids)
        3
    """
    result = DemoRun(path=path)
    agent = build_agent()
    tape = tracetape.open(path)
    run_ids: list[str] = []
    try:
        for question in QUESTIONS:
            run_id = uuid.uuid4()
            output = agent.invoke(
                {"messages": [("user", question)]},
                config={"callbacks": [tape.langchain()], "run_id": run_id, "tags": ["demo"]},
            )
            run_ids.append(str(run_id))
            result.answers.append(output["messages"][-1].text)
        result.spans = tape.flush()
    finally:
        tape.close()
    rows = TapeReader(path, tape.settings.lock_timeout).sql(
        f"SELECT trace_id, attributes->>'{semconv.LANGCHAIN_RUN_ID}' AS lc_run FROM spans "
        "WHERE parent_span_id IS NULL AND list_contains(?, lc_run)",
        [run_ids],
    )
    by_run = dict(zip(rows["lc_run"], rows["trace_id"], strict=True))
    result.trace_ids = [str(by_run[run_id]) for run_id in run_ids]
    return result


def follow_ups(run: DemoRun) -> list[tuple[str, str]]:
    """(what it shows, command) pairs to look further into what the demo recorded."""
    path = "" if run.path == DEFAULT_PATH else f" --path {shlex.quote(str(run.path))}"
    first, failed = run.trace_ids[0], run.trace_ids[-1]
    # The SQL goes in double quotes: it holds single quotes and no $, ` or \.
    query = (
        "select kind, name, duration_ms, input_tokens, output_tokens from spans "
        f"where trace_id = '{first}' order by start_time"
    )
    tools = "select tool_name, status, error_type, status_message from spans where kind = 'tool'"
    return [
        ("the recent traces", f"tracetape ls{path}"),
        ("only the traces with an error", f"tracetape ls{path} --errors"),
        ("one trace as a span tree", f"tracetape show{path} {first}"),
        ("the failed trace with every input and output", f"tracetape show{path} {failed} --full"),
        ("SQL over the public views", f'tracetape sql{path} "{query}"'),
        ("every tool call and its status", f'tracetape sql{path} "{tools}"'),
        ("what the first answer came from", f"tracetape lineage{path} {first}"),
        (
            "replay the first trace, every call answered from the tape",
            f"tracetape replay{path} {first} --app tracetape.demo.agent:build_agent",
        ),
    ]


def show(run: DemoRun, console: Console) -> None:
    """Print what ``run`` recorded as trees, then the commands to look further."""
    reader = TapeReader(run.path)
    console.print(
        Text.assemble(
            "Recorded ",
            (f"{len(run.trace_ids)} traces", "bold"),
            f" ({run.spans} spans) of the LangGraph agent ",
            (GRAPH_NAME, "bold magenta"),
            " into ",
            (str(run.path), "bold"),
        ),
        soft_wrap=True,
    )
    for question, answer, trace_id in zip(QUESTIONS, run.answers, run.trace_ids, strict=True):
        trace: Trace = reader.trace(trace_id)
        console.print()
        console.print(Text.assemble(("Q: ", "bold"), question), soft_wrap=True)
        console.print(Text.assemble(("A: ", "bold"), answer), soft_wrap=True)
        console.print(trace.tree())
    console.print()
    console.print(Text("Look further:", style="bold"))
    for note, command in follow_ups(run):
        console.print(Text(f"  # {note}", style="dim"), soft_wrap=True)
        console.print(Text(f"  {command}", style="cyan"), soft_wrap=True)
    console.print()
    console.print(Text("Or in Python:", style="bold"))
    python = (
        "import tracetape\n"
        f"tape = tracetape.open({str(run.path)!r})\n"
        "tape.traces()\n"
        f"tape.trace({run.trace_ids[0]!r}).llm_calls\n"
        "tape.sql(\"select name, status_message from spans where status = 'error'\")"
    )
    for line in python.splitlines():
        console.print(Text(f"  {line}", style="cyan"), soft_wrap=True)


def run_demo(path: Path, console: Console) -> DemoRun:
    """Record the demo into ``path`` and show it on ``console``."""
    run = record(path)
    show(run, console)
    return run
