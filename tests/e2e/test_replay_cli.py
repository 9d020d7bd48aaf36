"""``tracetape replay ID --app ...`` end to end: an app module written to tmp_path, a
trace recorded through it, the verb run through ``main([...])``."""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_replay import QUESTION, SIDE_EFFECTS, script_three_steps
from tests.fakes.openai_server import Reply
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.cli.main import main

APP = """
import os

from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from tests.e2e.test_replay import agent
from tests.fakes.openai_server import TEST_API_KEY

model = ChatOpenAI(
    model="gpt-4o", base_url=os.environ["REPLAY_CLI_OPENAI_URL"], api_key=TEST_API_KEY,
    max_retries=0, timeout=30,
)
graph = agent(model, checkpointer=InMemorySaver())
agraph = agent(model, aio=True)
changed = agent(model, "You are a sloppy calculator.")
not_an_app = 42


def build():
    return agent(model)
"""
_names = itertools.count()


@pytest.fixture
def app(tmp_path, monkeypatch, openai_server) -> Iterator[tuple[str, Path, Any]]:
    """(module name, file, module) of a fresh app module pointed at the fake server."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("REPLAY_CLI_OPENAI_URL", openai_server.base_url)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    name = f"replay_cli_app_{next(_names)}"
    path = tmp_path / f"{name}.py"
    path.write_text(APP)
    before = set(sys.modules)
    yield name, path, importlib.import_module(name)
    for added in set(sys.modules) - before:
        del sys.modules[added]


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def record(tape: Any, graph: Any, server: Any) -> str:
    script_three_steps(server)
    config = {"configurable": {"thread_id": "cli-1"}, "callbacks": [tape.langchain()]}
    graph.invoke(QUESTION, config=config)
    tape.flush()
    return str(tape.traces().trace_id[0])


def test_replay_prints_what_changed_and_exits_0(tape, app, openai_server, capsys):
    name, path, module = app
    trace_id = record(tape, module.graph, openai_server)
    SIDE_EFFECTS.clear()

    code, out, err = cli(
        capsys, "replay", trace_id[:10], "--app", f"{name}:graph", "--path", str(tape.path)
    )

    assert (code, err) == (0, "")
    assert f"replay of {trace_id}: trace " in out
    assert "calls: 6 answered from the tape, 0 live" in out
    assert "output: same as recorded" in out
    assert openai_server.request_count == 3 and SIDE_EFFECTS == []
    tape.flush()
    replays = tape.sql("select trace_id from traces where replay_of = ?", [trace_id]).trace_id
    assert len(replays) == 1 and replays[0] in out

    code, out, _ = cli(
        capsys, "replay", trace_id, "--app", f"{path}:build", "--path", str(tape.path)
    )
    assert code == 0 and "same as recorded" in out
    code, out, _ = cli(
        capsys, "replay", trace_id, "--app", f"{name}:agraph", "--async", "--path", str(tape.path)
    )
    assert code == 0 and "6 answered from the tape" in out


def test_a_divergence_is_printed_and_exits_1(tape, app, openai_server, capsys):
    name, _, module = app
    trace_id = record(tape, module.graph, openai_server)

    code, out, err = cli(
        capsys, "replay", trace_id, "--app", f"{name}:changed", "--path", str(tape.path)
    )

    assert (code, err) == (1, "")
    assert "replay diverged at llm call #0 'ChatOpenAI'" in out
    assert "-system: You are a careful calculator." in out
    assert "+system: You are a sloppy calculator." in out
    assert "output: none (stopped at the divergence)" in out
    assert openai_server.request_count == 3


def test_live_runs_the_model_for_real(tape, app, openai_server, capsys):
    name, _, module = app
    trace_id = record(tape, module.graph, openai_server)
    script_three_steps(openai_server)
    path = str(tape.path)

    code, out, _ = cli(
        capsys, "replay", trace_id, "--app", f"{name}:changed", "--live", "llm", "--path", path
    )

    assert code == 0  # a new prompt, the same answers
    assert "calls: 3 answered from the tape, 3 live" in out
    assert "output: same as recorded" in out
    assert openai_server.request_count == 6

    script_three_steps(openai_server)
    code, out, _ = cli(
        capsys, "replay", trace_id, "--app", f"{name}:changed", "--on-divergence", "live",
        "--path", path,
    )  # fmt: skip

    assert code == 1  # it diverged, then went live
    assert "replay diverged at llm call #0" in out and "+system: You are a sloppy" in out
    assert "calls: 3 answered from the tape, 3 live" in out
    assert openai_server.request_count == 9


def test_a_live_model_that_takes_another_path_lists_what_it_left_out(
    tape, app, openai_server, capsys
):
    name, _, module = app
    trace_id = record(tape, module.graph, openai_server)
    openai_server.script(Reply(content="I will not add."))

    code, out, err = cli(
        capsys, "replay", trace_id, "--app", f"{name}:changed", "--live", "llm",
        "--path", str(tape.path),
    )  # fmt: skip

    assert (code, err) == (1, "")  # it ran to its answer, on another path
    assert "the re-run ended without making 3 recorded tool call(s)" in out
    assert "output: differs from the recorded one" in out
    assert "calls: 0 answered from the tape, 1 live" in out


def test_from_step_in_the_same_process_and_after_it(tape, app, openai_server, capsys):
    name, path, module = app
    trace_id = record(tape, module.graph, openai_server)

    args = ("replay", trace_id, "--from-step", "3", "--path", str(tape.path))
    code, out, _ = cli(capsys, *args, "--app", f"{name}:graph")

    assert code == 0
    assert "calls: 3 answered from the tape, 0 live" in out and "same as recorded" in out

    # Imported from its file again, as a new process would: a new, empty InMemorySaver.
    code, out, err = cli(capsys, *args, "--app", f"{path}:graph")

    assert (code, out) == (2, "")
    assert err.startswith("error: the graph's checkpointer holds no thread 'cli-1'")
    assert "InMemorySaver" in err and len(err.strip().splitlines()) == 1
    assert openai_server.request_count == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "error: --app takes module:attr or path/to/file.py:attr"),
        ("no_such_module_here:graph", "error: --app: cannot import no_such_module_here"),
        ("{name}:nothing", "error: --app: {name} has no attribute 'nothing'"),
        ("{name}:not_an_app", "error: --app: {name}:not_an_app is not a runnable or graph"),
        ("missing/app.py:graph", "error: --app: no file missing/app.py"),
    ],
)
def test_app_errors_exit_2_with_one_line(tape, app, openai_server, capsys, spec, message):
    name, _, module = app
    trace_id = record(tape, module.graph, openai_server)

    code, out, err = cli(
        capsys, "replay", trace_id, "--app", spec.format(name=name), "--path", str(tape.path)
    )

    assert (code, out) == (2, "")
    assert err.startswith(message.format(name=name)), err
    assert len(err.strip().splitlines()) == 1


def test_unknown_traces_and_missing_tapes_exit_2(tape, app, tmp_path, capsys):
    name, _, _ = app
    code, _, err = cli(
        capsys, "replay", "deadbeef", "--app", f"{name}:graph", "--path", str(tape.path)
    )
    assert code == 2 and err.startswith("error: no trace 'deadbeef'")
    missing = tmp_path / "none.duckdb"
    code, _, err = cli(capsys, "replay", "a" * 32, "--app", f"{name}:graph", "--path", str(missing))
    assert code == 2 and err.startswith("error: no tape at") and not missing.exists()
    code, _, err = cli(
        capsys, "replay", "deadbeef", "--app", f"{name}:graph", "--path", str(missing)
    )
    assert code == 2 and err.startswith("error: no tape at") and not missing.exists()


LLAMAINDEX_APP = """
from tests.fakes import llamaindex as fakes

llm = fakes.CountingLLM()
engine = fakes.index().as_query_engine(llm=llm, similarity_top_k=2)


def build():
    return fakes.index().as_query_engine(llm=llm, similarity_top_k=2)
"""


@pytest.fixture
def llamaindex_app(tmp_path, monkeypatch) -> Iterator[tuple[str, Path, Any]]:
    """(module name, file, module) of a fresh app module holding a LlamaIndex engine."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    name = f"replay_cli_llamaindex_app_{next(_names)}"
    path = tmp_path / f"{name}.py"
    path.write_text(LLAMAINDEX_APP)
    before = set(sys.modules)
    yield name, path, importlib.import_module(name)
    for added in set(sys.modules) - before:
        del sys.modules[added]


def test_a_llamaindex_query_engine_replays_from_the_command_line(tape, llamaindex_app, capsys):
    from tests.fakes import llamaindex as fakes

    name, path, module = llamaindex_app
    with fakes.attached(tape.recorder):
        module.engine.query("How long do cats sleep?")
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    assert module.llm.calls == 1

    code, out, err = cli(
        capsys, "replay", trace_id[:10], "--app", f"{name}:engine", "--path", str(tape.path)
    )

    assert (code, err) == (0, ""), out
    assert f"replay of {trace_id}: trace " in out
    assert "calls: 2 answered from the tape, 0 live" in out
    assert "output: same as recorded" in out
    assert module.llm.calls == 1  # the model was not asked
    tape.flush()
    replays = tape.sql("select trace_id from traces where replay_of = ?", [trace_id]).trace_id
    assert len(replays) == 1 and replays[0] in out

    path_args = ("--app", f"{path}:build", "--path", str(tape.path))
    code, out, _ = cli(capsys, "replay", trace_id, *path_args)
    assert code == 0 and "same as recorded" in out
    code, out, _ = cli(capsys, "replay", trace_id, *path_args, "--async")
    assert code == 0 and "2 answered from the tape" in out
    code, out, _ = cli(capsys, "replay", trace_id, *path_args, "--live", "llm")
    assert code == 0 and "calls: 1 answered from the tape, 1 live" in out
