"""Parallel tool calls, streaming, batch, async and threads keep correct traces."""

from __future__ import annotations

import asyncio
import json
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from tests.fakes.models import ToolCallingFakeModel, call, script


@tool
def lookup(city: str) -> str:
    """Look up the weather of a city."""
    return f"sunny in {city}"


@tool
def fail_tool(reason: str) -> str:
    """A tool that always fails."""
    raise ValueError(f"cannot: {reason}")


def react_agent(model, tools, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, tools, **kwargs)


def weather_model(question_id: int) -> ToolCallingFakeModel:
    return ToolCallingFakeModel(
        messages=script(
            AIMessage(
                content="",
                tool_calls=[
                    call("lookup", {"city": f"Paris-{question_id}"}, f"c{question_id}-a"),
                    call("lookup", {"city": f"Rome-{question_id}"}, f"c{question_id}-b"),
                ],
            ),
            AIMessage(content=f"answer {question_id}"),
        )
    )


def _tool_parents(tape) -> dict[str, str]:
    rows = tape.sql(
        "select t.attributes->>'gen_ai.tool.call.id' as call_id, t.trace_id, "
        "p.kind as parent_kind from spans t join spans p on t.parent_span_id = p.span_id "
        "where t.kind = 'tool'"
    )
    assert set(rows.parent_kind) == {"node"}
    return dict(zip(rows.call_id, rows.trace_id, strict=True))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_parallel_tool_calls_in_one_message(tape):
    agent = react_agent(weather_model(1), [lookup])
    out = agent.invoke(
        {"messages": [("user", "weather?")]}, config={"callbacks": [tape.langchain()]}
    )
    assert out["messages"][-1].content == "answer 1"
    tape.flush()
    calls = _tool_parents(tape)
    assert set(calls) == {"c1-a", "c1-b"}
    assert len(set(calls.values())) == 1
    outputs = tape.sql("select output from spans where kind = 'tool' order by output")
    assert [json.loads(o) for o in outputs.output] == ["sunny in Paris-1", "sunny in Rome-1"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tool_that_raises_is_an_error_span(tape):
    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("fail_tool", {"reason": "x"}, "f1")]),
            AIMessage(content="sorry"),
        )
    )
    from langgraph.prebuilt import ToolNode

    agent = react_agent(model, ToolNode([fail_tool], handle_tool_errors=True))
    out = agent.invoke({"messages": [("user", "go")]}, config={"callbacks": [tape.langchain()]})
    # ToolNode turns the error into a ToolMessage for the model by default.
    assert out["messages"][-1].content == "sorry"
    tape.flush()
    row = tape.sql("select status, error_type, status_message from spans where kind = 'tool'").iloc[
        0
    ]
    assert row.status == "error"
    assert row.error_type == "ValueError"
    assert "cannot: x" in row.status_message
    assert tape.traces().n_errors[0] >= 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_stream_and_batch(tape):
    agent = react_agent(weather_model(2), [lookup])
    chunks = list(
        agent.stream(
            {"messages": [("user", "weather?")]},
            config={"callbacks": [tape.langchain()]},
            stream_mode="updates",
        )
    )
    assert chunks
    models = [weather_model(i) for i in (3, 4)]
    agents = [react_agent(m, [lookup]) for m in models]
    # batch over one runnable: two inputs, two traces
    single = react_agent(weather_model(5), [lookup])
    results = single.batch(
        [{"messages": [("user", "a")]}], config={"callbacks": [tape.langchain()]}
    )
    assert results[0]["messages"][-1].content == "answer 5"
    for agent_ in agents:
        agent_.invoke({"messages": [("user", "b")]}, config={"callbacks": [tape.langchain()]})
    tape.flush()
    assert len(tape.traces()) == 4
    calls = _tool_parents(tape)
    by_trace: dict[str, set[str]] = {}
    for call_id, trace_id in calls.items():
        by_trace.setdefault(trace_id, set()).add(call_id.split("-")[0])
    assert all(len(prefixes) == 1 for prefixes in by_trace.values()), by_trace


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_threads_keep_separate_traces(tape):
    handler = tape.langchain()

    def run(i: int) -> str:
        agent = react_agent(weather_model(i), [lookup])
        out = agent.invoke({"messages": [("user", str(i))]}, config={"callbacks": [handler]})
        return out["messages"][-1].content

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(run, range(10, 18)))
    assert answers == [f"answer {i}" for i in range(10, 18)]
    tape.flush()
    assert len(tape.traces()) == 8
    calls = _tool_parents(tape)
    traces_per_question: dict[str, set[str]] = {}
    for call_id, trace_id in calls.items():
        traces_per_question.setdefault(call_id.split("-")[0], set()).add(trace_id)
    assert all(len(t) == 1 for t in traces_per_question.values())
    assert len({next(iter(t)) for t in traces_per_question.values()}) == 8
    assert handler.open_runs == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_async_gather_and_astream_events(tape):
    handler = tape.langchain()

    async def run(i: int) -> str:
        agent = react_agent(weather_model(i), [lookup])
        out = await agent.ainvoke({"messages": [("user", str(i))]}, config={"callbacks": [handler]})
        return out["messages"][-1].content

    answers = await asyncio.gather(*(run(i) for i in range(20, 26)))
    assert answers == [f"answer {i}" for i in range(20, 26)]

    agent = react_agent(weather_model(30), [lookup])
    events = [
        event
        async for event in agent.astream_events(
            {"messages": [("user", "x")]}, config={"callbacks": [handler]}, version="v2"
        )
    ]
    assert any(e["event"] == "on_tool_end" for e in events)
    agent = react_agent(weather_model(31), [lookup])
    chunks = [
        c
        async for c in agent.astream({"messages": [("user", "y")]}, config={"callbacks": [handler]})
    ]
    assert chunks
    tape.flush()
    assert len(tape.traces()) == 8
    calls = _tool_parents(tape)
    traces_per_question: dict[str, set[str]] = {}
    for call_id, trace_id in calls.items():
        traces_per_question.setdefault(call_id.split("-")[0], set()).add(trace_id)
    assert len(traces_per_question) == 8
    assert all(len(t) == 1 for t in traces_per_question.values())
    assert handler.open_runs == 0


@tool
def bracketed(query: str) -> str:
    """Return text that looks like JSON but is not."""
    return "[faq-1] shipping takes {3} days"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_text_that_looks_like_json_is_stored_as_text(tape):
    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("bracketed", {"query": "q"}, "b1")]),
            AIMessage(content='{"not": json'),
        )
    )
    agent = react_agent(model, [bracketed])
    agent.invoke({"messages": [("user", "[x")]}, config={"callbacks": [tape.langchain()]})
    assert tape.flush() > 0
    out = tape.sql("select output from spans where kind = 'tool'").output[0]
    assert json.loads(out) == "[faq-1] shipping takes {3} days"
    assert tape.sql("select count(*) from spans where kind = 'llm'").iloc[0, 0] == 2
