"""A LangGraph app whose nodes call LlamaIndex: one trace, LlamaIndex spans under nodes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph

import tracetape
from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import LlamaIndexRecorder

QUESTION = "How long do cats sleep?"


class State(TypedDict, total=False):
    question: str
    context: str
    answer: str


@pytest.fixture
def index() -> Any:
    return fakes.index()


@pytest.fixture
def recording(tape: Any, index: Any) -> Iterator[LlamaIndexRecorder]:
    with fakes.attached(tape.recorder) as pair:
        yield pair


def build_graph(index: Any) -> Any:
    engine = index.as_query_engine(similarity_top_k=2)
    retriever = index.as_retriever(similarity_top_k=1)

    def lookup(state: State) -> State:
        nodes = retriever.retrieve(state["question"])
        return {"context": nodes[0].get_content()}

    async def answer(state: State) -> State:
        with tracetape.span("before-query"):
            pass
        response = await engine.aquery(state["question"])
        return {"answer": str(response)}

    builder = StateGraph(State)
    builder.add_node("lookup", lookup)
    builder.add_node("answer", answer)
    builder.add_edge(START, "lookup")
    builder.add_edge("lookup", "answer")
    builder.add_edge("answer", END)
    return builder.compile(name="qa")


def test_langgraph_nodes_calling_llamaindex_record_one_trace(tape, index, recording):
    graph = build_graph(index)
    out = asyncio.run(
        graph.ainvoke({"question": QUESTION}, config={"callbacks": [tape.langchain()]})
    )
    assert out["answer"] and out["context"]
    tape.flush()
    assert tape.sql("select count(distinct trace_id) from spans").iloc[0, 0] == 1
    roots = tape.sql("select name, kind from spans where parent_span_id is null")
    assert roots.to_dict("records") == [{"name": "qa", "kind": "graph"}]
    # The LlamaIndex spans that start each node's work hang under that node.
    nested = tape.sql(
        "select c.name, c.kind, p.name as node, p.kind as parent_kind "
        "from spans c join spans p on c.parent_span_id = p.span_id "
        "where c.attributes->>'tracetape.llamaindex.span_id' is not null "
        "and p.attributes->>'tracetape.llamaindex.span_id' is null order by c.start_time"
    )
    assert nested.to_dict("records") == [
        {
            "name": "VectorIndexRetriever.retrieve",
            "kind": "retriever",
            "node": "lookup",
            "parent_kind": "node",
        },
        {
            "name": "RetrieverQueryEngine.aquery",
            "kind": "chain",
            "node": "answer",
            "parent_kind": "node",
        },
    ]
    kinds = set(tape.sql("select kind from spans")["kind"])
    assert {"graph", "node", "retriever", "embedding", "chain", "prompt", "llm"} <= kinds
    # A user span opened in the node before the query is its sibling, not its parent.
    user = tape.sql(
        "select p.name from spans c join spans p on c.parent_span_id = p.span_id "
        "where c.name = 'before-query'"
    )
    assert user["name"].tolist() == ["answer"]
    documents = tape.sql(
        "select output from spans where kind = 'retriever' and name like '%retrieve' "
        "order by start_time limit 1"
    ).iloc[0, 0]
    assert json.loads(documents)[0]["content"] == out["context"]


def test_code_inside_a_llamaindex_span_nests_under_it(tape, recording):
    from llama_index.core.tools import FunctionTool

    def lookup(city: str) -> str:
        """Look a city up."""
        with tracetape.span("inside-tool"):
            return city.upper()

    tool = FunctionTool.from_defaults(lookup)
    assert tool.call(city="paris").content == "PARIS"
    tape.flush()
    rows = tape.sql(
        "select c.name, p.name as parent, p.kind as parent_kind from spans c "
        "join spans p on c.parent_span_id = p.span_id"
    )
    assert rows.to_dict("records") == [
        {"name": "inside-tool", "parent": "lookup", "parent_kind": "tool"}
    ]
