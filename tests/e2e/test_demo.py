"""The offline demo, in process and through the ``tracetape`` console script."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tracetape.demo import QUESTIONS, record, run_demo
from tracetape.inspect.reader import TapeReader

SCRIPT = Path(sys.executable).parent / "tracetape"

# The first question's trace, as (depth, kind, name) in tree order.
FIRST_TREE = [
    (0, "graph", "support-agent"),
    (1, "node", "agent"),
    (2, "chain", "RunnableSequence"),
    (3, "prompt", "ChatPromptTemplate"),
    (3, "llm", "DemoChatModel"),
    (2, "chain", "route"),
    (1, "node", "tools"),
    (2, "tool", "search_docs"),
    (3, "retriever", "VectorStoreRetriever"),
    (4, "embedding", "embeddings DeterministicFakeEmbedding"),
    (1, "node", "agent"),
    (2, "chain", "RunnableSequence"),
    (3, "prompt", "ChatPromptTemplate"),
    (3, "llm", "DemoChatModel"),
    (2, "chain", "route"),
    (1, "node", "tools"),
    (2, "tool", "calculator"),
    (1, "node", "agent"),
    (2, "chain", "RunnableSequence"),
    (3, "prompt", "ChatPromptTemplate"),
    (3, "llm", "DemoChatModel"),
    (2, "chain", "route"),
]


def _shape(reader: TapeReader, trace_id: str) -> list[tuple[int, str, str]]:
    return [(depth, span["kind"], span["name"]) for depth, span in reader.trace(trace_id).walk()]


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    path = tmp_path_factory.mktemp("demo") / "tape.duckdb"
    buffer = io.StringIO()
    run = run_demo(path, Console(file=buffer, width=200, color_system=None))
    return path, buffer.getvalue(), run.trace_ids


def test_demo_records_every_kind(demo_output):
    path, _, trace_ids = demo_output
    reader = TapeReader(path)
    kinds = set(reader.sql("select distinct kind from spans")["kind"])
    assert {"graph", "node", "chain", "llm", "tool", "retriever", "prompt", "embedding"} <= kinds
    traces = reader.sql("select * from traces order by start_time")
    assert list(traces.trace_id) == trace_ids
    assert list(traces.n_llm) == [3, 2, 2]
    assert list(traces.n_tool) == [2, 1, 1]
    assert list(traces.n_errors) == [0, 0, 1]
    assert list(traces.status) == ["ok", "ok", "error"]
    assert (traces.input_tokens > 0).all() and (traces.output_tokens > 0).all()
    models = reader.sql("select distinct model from spans where kind = 'llm'")
    assert list(models.model) == ["tracetape-demo-1"]
    assert _shape(reader, trace_ids[0]) == FIRST_TREE


def test_demo_error_trace_has_the_failed_tool(demo_output):
    path, _, trace_ids = demo_output
    failed = TapeReader(path).sql(
        "select kind, tool_name, error_type, status_message, input from spans "
        "where status = 'error' and trace_id = ?",
        [trace_ids[2]],
    )
    assert len(failed) == 1
    row = failed.iloc[0]
    assert (row.kind, row.tool_name) == ("tool", "lookup_order")
    assert row.error_type.endswith("OrderNotFoundError")
    assert "Z-9999" in row.status_message


def test_demo_prints_trees_and_follow_ups(demo_output):
    _, output, trace_ids = demo_output
    assert "Recorded 3 traces" in output
    for question in QUESTIONS:
        assert f"Q: {question}" in output
    assert "A: From the FAQ: Shipping to Canada takes 5 to 7 business days" in output
    assert "The total is 37.5." in output
    for trace_id in trace_ids:
        assert f"trace {trace_id}" in output
    assert "└── support-agent  graph" in output
    assert "DemoChatModel  llm  tracetape-demo-1" in output
    assert "✗ tracetape.demo.tools.OrderNotFoundError: no order 'Z-9999'" in output
    assert "tracetape ls --path" in output
    assert f"tracetape show --path {demo_output[0]} {trace_ids[0]}" in output
    assert f"where trace_id = '{trace_ids[0]}'" in output
    assert "tape.sql(" in output


def test_demo_is_deterministic(tmp_path, demo_output):
    path, _, trace_ids = demo_output
    again = record(tmp_path / "again.duckdb")
    first, second = TapeReader(path), TapeReader(again.path)
    for a, b in zip(trace_ids, again.trace_ids, strict=True):
        assert _shape(first, a) == _shape(second, b)
    query = "select kind, name, input, output, coalesce(input_tokens, -1) i, "
    query += "coalesce(output_tokens, -1) o from spans "
    query += "where trace_id = ? and kind in ('llm', 'tool') order by start_time"
    for a, b in zip(trace_ids, again.trace_ids, strict=True):
        assert first.sql(query, [a]).to_dict("records") == second.sql(query, [b]).to_dict("records")


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "TRACETAPE_STRICT": "1"}
    env.pop("TRACETAPE_PATH", None)
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=240
    )


def test_demo_console_script_and_its_printed_commands(tmp_path):
    path = tmp_path / "cli" / "tape.duckdb"
    done = _cli("demo", "--path", str(path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "support-agent  graph" in done.stdout
    assert "lookup_order" in done.stdout
    commands = [
        line.strip() for line in done.stdout.splitlines() if line.strip().startswith("tracetape ")
    ]
    assert len(commands) == 8
    # Every command the demo suggests runs as printed.
    for command in commands:
        ran = _cli(*shlex.split(command)[1:])
        assert ran.returncode == 0, (command, ran.stderr)
        assert ran.stdout.strip()
    kinds = TapeReader(path).sql("select distinct kind from spans")
    assert {"graph", "llm", "tool", "retriever", "prompt", "embedding"} <= set(kinds.kind)


def test_demo_default_path_is_in_the_working_directory(tmp_path):
    done = _cli("demo", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".tracetape" / "tape.duckdb").is_file()
    assert "tracetape ls\n" in done.stdout.replace("  tracetape ls", "tracetape ls")
