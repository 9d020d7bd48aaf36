"""instrument()/uninstrument(), user spans, and nesting under the user's OTel span."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from opentelemetry.sdk.trace import TracerProvider

import tracetape
from tests.fakes.models import ToolCallingFakeModel, call, script

inner_chain = RunnableLambda(lambda text: text[::-1], name="reverse")


@tool
def reverse_text(text: str) -> str:
    """Reverse a text with a nested chain invoked without any config."""
    with tracetape.span("inside-tool") as span:
        span.set_output("about to reverse")
    return inner_chain.invoke(text)


def make_agent(i: int = 1):
    from langchain.agents import create_agent

    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("reverse_text", {"text": "abc"}, f"r{i}")]),
            AIMessage(content="cba"),
        )
    )
    return create_agent(model, [reverse_text], name="reverser")


def test_instrument_records_without_a_callback_and_uninstrument_stops(tape):
    agent = make_agent()
    tracetape.instrument(tape)
    tracetape.instrument(tape)  # idempotent
    out = agent.invoke({"messages": [("user", "reverse abc")]})
    assert out["messages"][-1].content == "cba"
    tape.flush()
    traces = tape.traces()
    assert len(traces) == 1, "one trace: the nested chain and user span join the agent's"
    tree = [(d, r["kind"], r["name"]) for d, r in tape.trace(traces.trace_id[0]).walk()]
    names = [n for _, _, n in tree]
    assert names.count("reverse_text") == 1
    tool_depth = next(d for d, k, n in tree if n == "reverse_text")
    user_depth = next(d for d, k, n in tree if n == "inside-tool")
    nested_depth = next(d for d, k, n in tree if n == "reverse")
    assert user_depth == tool_depth + 1
    assert nested_depth == tool_depth + 1
    assert tree[0][1] == "graph"

    tracetape.uninstrument()
    agent2 = make_agent(2)
    agent2.invoke({"messages": [("user", "again")]})
    tape.flush()
    # Only the user's own span (tracetape.span records into the open tape) is new.
    assert tape.sql("select count(*) from spans where kind = 'tool'").iloc[0, 0] == 1
    new = tape.sql("select name from spans where trace_id != ?", [traces.trace_id[0]])
    assert list(new.name) == ["inside-tool"]


def test_explicit_callback_and_instrument_do_not_double_record(tape):
    tracetape.instrument(tape)
    agent = make_agent()
    agent.invoke({"messages": [("user", "x")]}, config={"callbacks": [tape.langchain()]})
    tape.flush()
    assert tape.sql("select count(*) from spans where kind = 'tool'").iloc[0, 0] == 1


def test_agent_trace_nests_under_the_users_active_otel_span(tape):
    provider = TracerProvider()
    tracer = provider.get_tracer("user-app")
    with tracer.start_as_current_span("http-request") as outer:
        make_agent().invoke({"messages": [("user", "x")]}, config={"callbacks": [tape.langchain()]})
    tape.flush()
    ctx = outer.get_span_context()
    root = tape.sql("select trace_id, parent_span_id from spans where kind = 'graph'").iloc[0]
    assert root.trace_id == format(ctx.trace_id, "032x")
    assert root.parent_span_id == format(ctx.span_id, "016x")
    provider.shutdown()


def test_user_span_as_decorator_and_context_manager(tape):
    @tracetape.span("load-data")
    def load() -> list[int]:
        return [1, 2, 3]

    @tracetape.span
    async def nothing() -> None:
        return None

    with tracetape.span("pipeline", attributes={"k": 4, "cfg": {"a": 1}}) as step:
        data = load()
        step.set_output({"n": len(data)})
    tape.flush()
    rows = tape.sql(
        "select name, parent_span_id, attributes, output from spans order by start_time"
    )
    assert list(rows.name) == ["pipeline", "load-data"]
    attributes = json.loads(rows.attributes[0])
    assert attributes["k"] == 4 and attributes["tracetape.user_span"] is True
    assert json.loads(rows.output[0]) == {"n": 3}
    assert rows.parent_span_id[1] is not None


def test_user_span_records_the_exception_and_reraises(tape):
    class Oops(Exception):
        pass

    try:
        with tracetape.span("risky"):
            raise Oops("bad")
    except Oops as exc:
        assert str(exc) == "bad"
    tape.flush()
    row = tape.sql("select status, error_type from spans").iloc[0]
    assert row.status == "error" and row.error_type.endswith("Oops")


def test_a_user_span_stays_the_parent_of_every_agent_run_inside_it(tape):
    with tracetape.span("batch-of-questions"):
        for i in range(3):
            make_agent(i).invoke(
                {"messages": [("user", str(i))]}, config={"callbacks": [tape.langchain()]}
            )
            with tracetape.span(f"after-{i}"):
                pass
    tape.flush()
    assert len(tape.traces()) == 1
    rows = tape.sql(
        "select c.name, c.kind, p.name as parent from spans c join spans p "
        "on c.parent_span_id = p.span_id where c.kind = 'graph' or c.name like 'after-%'"
    )
    assert set(rows.parent) == {"batch-of-questions"}
    assert len(rows) == 6


def test_a_user_span_knows_its_ids_so_its_trace_can_be_scored(tape):
    with tracetape.span("answer-question") as step:
        trace_id, span_id = step.trace_id, step.span_id
    assert trace_id is not None and len(trace_id) == 32
    assert span_id is not None and len(span_id) == 16
    tape.score(trace_id, "helpful", True, comment="right answer")
    tape.flush()
    row = tape.sql("select trace_id, span_id, name from spans").iloc[0]
    assert (row.trace_id, row.span_id, row["name"]) == (trace_id, span_id, "answer-question")
    scores = tape.sql("select trace_id, name, value, comment from scores").iloc[0]
    assert (scores.trace_id, scores["name"], scores.value) == (trace_id, "helpful", 1.0)
