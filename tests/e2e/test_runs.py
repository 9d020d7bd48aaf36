"""Pipeline runs: spans link to the run they were recorded in, runs nest, fail, decorate."""

from __future__ import annotations

import asyncio
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from opentelemetry.sdk.trace import TracerProvider

import tracetape
from tests.fakes.models import ToolCallingFakeModel, call, script
from tracetape.errors import NotFoundError
from tracetape.runs.run import current_run
from tracetape.tape import Tape


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _agent():
    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("add", {"a": 1, "b": 2}, "call_add")]),
            AIMessage(content="3"),
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, [add])


def _run_ids(tape: Tape) -> dict[str, set[str | None]]:
    frame = tape.sql("SELECT name, run_id FROM spans")
    out: dict[str, set[str | None]] = {}
    for name, run_id in zip(frame.name, frame.run_id, strict=True):
        out.setdefault(name, set()).add(None if pd.isna(run_id) else run_id)
    return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_span_recorded_inside_a_run_carries_its_id(tape: Tape) -> None:
    agent = _agent()

    async def in_task() -> None:
        with tracetape.span("in-task"):
            await asyncio.sleep(0)

    def in_thread() -> None:
        with tracetape.span("in-thread"):
            pass

    with tape.run("nightly-eval", params={"k": 4}, tags=["nightly"]) as run:
        out = agent.invoke(
            {"messages": [("user", "add 1 and 2")]}, config={"callbacks": [tape.langchain()]}
        )
        with tracetape.span("mine"):
            pass
        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(in_thread).result()
        asyncio.run(in_task())
    with tracetape.span("after"):
        pass
    tape.flush()

    assert out["messages"][-1].content == "3"
    ids = _run_ids(tape)
    assert ids.pop("after") == {None}
    assert {"LangGraph", "add", "in-task", "in-thread", "mine"} <= set(ids)
    assert all(found == {run.run_id} for found in ids.values()), ids
    assert run.run_id.startswith("run-")
    row = tape.runs().iloc[0]
    assert (row.run_id, row["name"], row.status, list(row.tags)) == (
        run.run_id,
        "nightly-eval",
        "finished",
        ["nightly"],
    )
    assert row.params == '{"k": 4}'
    # The agent, "mine", two thread spans and the task span: each its own trace.
    assert (row.n_traces, row.n_spans) == (5, len(tape.sql("SELECT 1 FROM spans")) - 1)
    traces = tape.sql("SELECT DISTINCT run_id FROM traces WHERE run_id IS NOT NULL")
    assert traces.run_id.tolist() == [run.run_id]


def test_a_span_under_a_parent_carrying_a_run_id_gets_that_id(tape: Tape) -> None:
    # The parent may come from elsewhere (an explicit OTel parent, a user's own span).
    given = {"tracetape.run.id": "run-given-by-the-user"}
    with tracetape.span("job", attributes=given), tracetape.span("step"):
        pass
    tape.flush()

    assert _run_ids(tape)["step"] == {"run-given-by-the-user"}


def test_runs_nest_and_the_outer_run_resumes_after_the_inner_one(tape: Tape) -> None:
    with tape.run("outer") as outer:
        with tape.run("inner", params={"shard": 1}) as inner:
            assert current_run() is inner
            with tracetape.span("in-inner"):
                pass
        assert current_run() is outer
        with tracetape.span("in-outer"):
            pass
    assert current_run() is None
    tape.flush()

    ids = _run_ids(tape)
    assert ids == {"in-inner": {inner.run_id}, "in-outer": {outer.run_id}}
    runs = tape.runs().set_index("name")
    assert runs.loc["inner", "parent_run_id"] == outer.run_id
    assert pd.isna(runs.loc["outer", "parent_run_id"])
    assert set(runs.status) == {"finished"}
    assert runs.loc["inner", "start_time"] >= runs.loc["outer", "start_time"]
    assert runs.loc["inner", "end_time"] <= runs.loc["outer", "end_time"]


def test_a_run_that_raises_is_failed_with_its_error_and_the_error_is_unchanged(
    tape: Tape,
) -> None:
    error = ValueError("the index is empty")
    with pytest.raises(ValueError) as caught, tape.run("index-build") as run:
        with tracetape.span("load"):
            pass
        raise error
    tape.flush()

    assert caught.value is error
    row = tape.runs().iloc[0]
    assert (row.run_id, row.status, row.error_type, row.error_message) == (
        run.run_id,
        "failed",
        "ValueError",
        "the index is empty",
    )
    assert row.duration_ms >= 0


def test_the_decorator_makes_each_call_a_run_of_its_own(tape: Tape) -> None:
    @tape.run("score-batch", params={"batch": 8})
    def score(n: int) -> str:
        run = current_run()
        assert run is not None
        with tracetape.span(f"score-{n}"):
            pass
        return run.run_id

    @tape.run("fetch")
    async def fetch() -> str:
        run = current_run()
        assert run is not None
        return run.run_id

    first, second = score(1), score(2)
    third = asyncio.run(fetch())
    tape.flush()

    assert len({first, second, third}) == 3
    assert _run_ids(tape) == {"score-1": {first}, "score-2": {second}}
    runs = tape.runs().set_index("run_id")
    assert runs.loc[first, "name"] == runs.loc[second, "name"] == "score-batch"
    assert runs.loc[third, "name"] == "fetch"
    assert set(runs.status) == {"finished"}


def test_a_run_inside_an_opentelemetry_trace_records_where_it_started(tape: Tape) -> None:
    provider = TracerProvider()  # the user's own (an orchestrator's) tracing
    try:
        tracer = provider.get_tracer("orchestrator")
        with (
            tracer.start_as_current_span("dag-task") as outer,
            tape.run("step"),
            tracetape.span("inside"),
        ):
            pass
        context = outer.get_span_context()
    finally:
        provider.shutdown()
    tape.flush()

    row = tape.runs().iloc[0]
    assert (row.trace_id, row.parent_span_id) == (
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
    )
    assert tape.sql("SELECT trace_id FROM spans").trace_id.tolist() == [row.trace_id]


def test_a_run_records_the_environment_snapshot_it_ran_in(tape: Tape) -> None:
    with tape.run("no-spans") as run:
        pass

    env_id = run.environment_id
    assert env_id is not None
    assert env_id.startswith("env-")
    assert tape.runs().environment_id.tolist() == [env_id]
    snapshot = tape.environment(env_id)
    assert snapshot == tape.environment()
    assert snapshot["environment_id"] == env_id
    assert "pytest" in snapshot["packages"]
    with pytest.raises(NotFoundError):
        tape.environment("env-0000000000000000")


def test_the_runs_view_columns(tape: Tape) -> None:
    with tape.run("r"):
        pass

    assert tape.sql("SELECT * FROM runs").columns.tolist() == [
        "run_id",
        "name",
        "parent_run_id",
        "status",
        "error_type",
        "error_message",
        "params",
        "tags",
        "start_time",
        "end_time",
        "duration_ms",
        "environment_id",
        "trace_id",
        "parent_span_id",
        "n_traces",
        "n_spans",
    ]
    assert tape.runs().status.tolist() == ["finished"]


def test_a_run_needs_a_name_and_string_tags(tape: Tape) -> None:
    with pytest.raises(ValueError, match="needs a name"):
        tape.run(" ")
    with pytest.raises(TypeError, match="list of strings"):
        tape.run("r", tags="nightly")
