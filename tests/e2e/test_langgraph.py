"""Hand-built LangGraph graphs: conditional edges, subgraphs, checkpoints, interrupts."""

from __future__ import annotations

import json
import operator
from typing import Annotated, Any, TypedDict

import pandas as pd
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class State(TypedDict):
    value: int
    log: Annotated[list[str], operator.add]


def _inner(state: State) -> dict[str, Any]:
    return {"value": state["value"] * 10, "log": ["inner"]}


def build_subgraph():
    builder = StateGraph(State)
    builder.add_node("inner", _inner)
    builder.add_edge(START, "inner")
    return builder.compile(name="scaler")


def build_graph(checkpointer=None):
    sub = build_subgraph()

    def start(state: State) -> dict[str, Any]:
        return {"value": state["value"] + 1, "log": ["start"]}

    def route(state: State) -> str:
        return "big" if state["value"] > 5 else "small"

    def small(state: State) -> dict[str, Any]:
        # A subgraph invoked from inside a node function.
        out = sub.invoke({"value": state["value"], "log": []})
        return {"value": out["value"], "log": ["small"]}

    def big(state: State) -> dict[str, Any]:
        return {"value": state["value"], "log": ["big"]}

    builder = StateGraph(State)
    builder.add_node("start", start)
    builder.add_node("small", small)
    builder.add_node("big", big)
    builder.add_node("scaled", sub)  # a compiled subgraph added as a node
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", route, {"big": "big", "small": "small"})
    builder.add_edge("small", "scaled")
    builder.add_edge("big", END)
    builder.add_edge("scaled", END)
    return builder.compile(name="pipeline", checkpointer=checkpointer)


def _tree(tape, trace_id: str) -> list[tuple[int, str, str]]:
    trace = tape.trace(trace_id)
    return [(depth, row["kind"], row["name"]) for depth, row in trace.walk()]


def test_conditional_edges_and_subgraphs_nest_under_their_nodes(tape):
    graph = build_graph()
    out = graph.invoke({"value": 1, "log": []}, config={"callbacks": [tape.langchain()]})
    assert out["value"] == 200
    tape.flush()

    traces = tape.traces()
    assert len(traces) == 1, "a nested graph must not split into several root traces"
    trace_id = traces.trace_id[0]
    tree = _tree(tape, trace_id)
    assert tree[0] == (0, "graph", "pipeline")
    nodes = [(d, n) for d, k, n in tree if k == "node"]
    assert (1, "start") in nodes and (1, "small") in nodes and (1, "scaled") in nodes
    # Both subgraph runs are graph spans beneath the node that called them, and their
    # own node sits beneath them.
    graphs = [(d, n) for d, k, n in tree if k == "graph"]
    assert graphs == [(0, "pipeline"), (2, "scaler"), (2, "scaler")]
    inner = [d for d, k, n in tree if k == "node" and n == "inner"]
    assert inner == [3, 3]

    rows = tape.sql(
        "select name, attributes->>'tracetape.langgraph.step' as step, "
        "attributes->'tracetape.langgraph.triggers' as triggers, "
        "attributes->>'tracetape.langgraph.graph' as graph, "
        "attributes->>'tracetape.langgraph.checkpoint_ns' as ns "
        "from spans where kind = 'node' order by start_time"
    )
    start = rows[rows.name == "start"].iloc[0]
    assert start.step == "1"
    assert json.loads(start.triggers) == ["branch:to:start"]
    assert start.graph == "pipeline"
    inner_rows = rows[rows.name == "inner"]
    assert set(inner_rows.graph) == {"scaler"}
    assert all("|inner:" in ns for ns in inner_rows.ns), "subgraph namespaces nest"
    # The conditional edge routing is recorded as LangGraph's own plumbing? No: the
    # routing function is a user function and appears as a chain under its node.
    route = tape.sql("select count(*) from spans where name = 'route'").iloc[0, 0]
    assert route == 1
    # The root graph span holds the graph's input and output.
    root = tape.sql("select input, output, status from spans where parent_span_id is null").iloc[0]
    assert json.loads(root.input) == {"value": 1, "log": []}
    assert json.loads(root.output)["value"] == 200
    assert root.status == "ok"


def test_checkpointer_thread_run_twice_records_two_traces_with_thread_id(tape):
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"callbacks": [tape.langchain()], "configurable": {"thread_id": "thread-7"}}
    graph.invoke({"value": 1, "log": []}, config=config)
    out = graph.invoke({"value": 9, "log": []}, config=config)
    assert out["log"][-1] == "big"
    tape.flush()
    traces = tape.traces()
    assert len(traces) == 2
    threads = tape.sql(
        "select distinct attributes->>'tracetape.langgraph.thread_id' as t, "
        "attributes->>'gen_ai.conversation.id' as c from spans where kind = 'graph' "
        "and parent_span_id is null"
    )
    assert list(threads.t) == ["thread-7"] and list(threads.c) == ["thread-7"]


class ApprovalState(TypedDict):
    request: str
    approved: bool


def build_approval_graph():
    def ask(state: ApprovalState) -> dict[str, Any]:
        answer = interrupt({"question": f"approve {state['request']}?"})
        return {"approved": answer == "yes"}

    builder = StateGraph(ApprovalState)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(name="approval", checkpointer=InMemorySaver())


def test_interrupt_is_control_flow_and_resume_reruns_the_node(tape):
    graph = build_approval_graph()
    config = {"callbacks": [tape.langchain()], "configurable": {"thread_id": "t-approve"}}
    first = graph.invoke({"request": "refund", "approved": False}, config=config)
    assert "__interrupt__" in first
    second = graph.invoke(Command(resume="yes"), config=config)
    assert second["approved"] is True
    tape.flush()

    spans = tape.sql(
        "select name, kind, status, error_type, attributes->>'tracetape.control_flow' as flow, "
        "attributes->'tracetape.interrupt.value' as value from spans where kind = 'node' "
        "order by start_time"
    )
    assert list(spans.name) == ["ask", "ask"], "resuming re-runs the interrupted node"
    interrupted = spans.iloc[0]
    assert interrupted.flow == "interrupt"
    assert interrupted.status != "error" and pd.isna(interrupted.error_type)
    assert json.loads(interrupted.value) == [{"question": "approve refund?"}]
    assert spans.iloc[1].status == "ok"
    errors = tape.sql("select count(*) from spans where status = 'error'").iloc[0, 0]
    assert errors == 0
    assert len(tape.traces()) == 2


def test_exception_in_a_node_is_recorded_and_reaches_the_user_unchanged(tape):
    class Boom(RuntimeError):
        pass

    def explode(state: State) -> dict[str, Any]:
        raise Boom("node exploded")

    builder = StateGraph(State)
    builder.add_node("explode", explode)
    builder.add_edge(START, "explode")
    graph = builder.compile(name="fragile")
    with pytest.raises(Boom, match="node exploded") as caught:
        graph.invoke({"value": 1, "log": []}, config={"callbacks": [tape.langchain()]})
    assert type(caught.value) is Boom
    tape.flush()
    rows = tape.sql(
        "select kind, status, error_type, status_message from spans order by start_time"
    )
    assert set(rows.status) == {"error"}
    assert all(t.endswith("Boom") for t in rows.error_type)
    assert "node exploded" in rows.status_message[0]
    assert tape.traces().n_errors[0] == len(rows)


def test_command_to_parent_graph_is_control_flow(tape):
    class Flow(TypedDict):
        value: int

    def hop(state: Flow) -> Command:
        return Command(graph=Command.PARENT, goto="finish", update={"value": 42})

    sub_builder = StateGraph(Flow)
    sub_builder.add_node("hop", hop)
    sub_builder.add_edge(START, "hop")
    sub = sub_builder.compile(name="hopper")

    def finish(state: Flow) -> dict[str, Any]:
        return {"value": state["value"] + 1}

    builder = StateGraph(Flow)
    builder.add_node("sub", sub)
    builder.add_node("finish", finish)
    builder.add_edge(START, "sub")
    builder.add_edge("finish", END)
    graph = builder.compile(name="outer")
    handler = tape.langchain()
    out = graph.invoke({"value": 0}, config={"callbacks": [handler]})
    assert out["value"] == 43
    tape.flush()
    assert handler.open_runs == 0
    flows = tape.sql(
        "select name, attributes->>'tracetape.control_flow' as flow, status from spans "
        "where attributes->>'tracetape.control_flow' is not null"
    )
    assert set(flows.flow) == {"command"}
    assert "error" not in set(flows.status)
    assert tape.sql("select count(*) from spans where status = 'error'").iloc[0, 0] == 0


def test_every_run_is_released_after_errors_and_interrupts(tape):
    handler = tape.langchain()
    graph = build_approval_graph()
    config = {"callbacks": [handler], "configurable": {"thread_id": "mem"}}
    for _ in range(20):
        graph.invoke({"request": "r", "approved": False}, config=config)
        graph.invoke(Command(resume="no"), config=config)
    assert handler.open_runs == 0
    assert handler.runs.hidden_count == 0
