"""`Trace`, `SpanNode` and the query API on real LangGraph traces in a real tape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tracetape
from tracetape.demo import record
from tracetape.inspect.span import SpanNode
from tracetape.tape import Tape


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    run = record(tmp_path_factory.mktemp("api") / "tape.duckdb")
    return run.path, run.trace_ids


@pytest.fixture
def tape(recorded) -> Iterator[Tape]:
    opened = tracetape.open(recorded[0])
    try:
        yield opened
    finally:
        opened.close()


def _tree(node: SpanNode) -> dict:
    return {"span": f"{node.kind} {node.name}", "children": [_tree(c) for c in node.children]}


def test_the_failed_trace_as_a_tree_and_by_query(tape, recorded):
    trace = tape.trace(recorded[1][2])
    step = [  # one agent step: the model call and the routing after it
        {
            "span": "chain RunnableSequence",
            "children": [
                {"span": "prompt ChatPromptTemplate", "children": []},
                {"span": "llm DemoChatModel", "children": []},
            ],
        },
        {"span": "chain route", "children": []},
    ]
    assert _tree(trace.root) == {
        "span": "graph support-agent",
        "children": [
            {"span": "node agent", "children": step},
            {"span": "node tools", "children": [{"span": "tool lookup_order", "children": []}]},
            {"span": "node agent", "children": step},
        ],
    }
    failed = trace.first(kind="tool", failed=True)
    assert failed is not None and trace.find(failed=True) == [failed]
    assert (failed.tool_name, failed.input, failed.output) == (
        "lookup_order",
        {"order_id": "Z-9999"},
        None,
    )
    assert failed.error_type == "tracetape.demo.tools.OrderNotFoundError"
    assert failed.status_message == "no order 'Z-9999' in the shop's records"
    assert failed.attributes["gen_ai.tool.call.id"] == "call_1_lookup_order"
    assert failed.parent.attributes["tracetape.langgraph.node"] == "tools"
    assert failed.first_ancestor(kind="graph") is trace.root
    assert trace.find(lambda s: s.any_child(kind="tool", failed=True)) == [failed.parent]
    # The model saw the error and answered from it.
    last = trace.find(kind="llm")[-1]
    tool_message = last.input[-1]
    assert tool_message["role"] == "tool"
    assert "OrderNotFoundError" in tool_message["parts"][0]["response"]
    assert trace.status == "error" and trace.name == "support-agent"


def test_model_prompt_and_retriever_spans_carry_what_the_views_show(tape, recorded):
    trace = tape.trace(recorded[1][0])
    llm = trace.first(kind="llm")
    assert (llm.model, llm.provider) == ("tracetape-demo-1", "tracetape")
    assert [m["role"] for m in llm.input] == ["system", "user"]
    assert llm.output[0]["parts"][0] == {
        "type": "tool_call",
        "id": "call_1_search_docs",
        "name": "search_docs",
        "arguments": {"query": "How long is shipping to Canada, and what is 3 * 12.50?"},
    }
    assert isinstance(llm.input_tokens, int) and llm.input_tokens > 0
    assert llm.parent.kind == "chain" and llm.first_ancestor(kind="node").name == "agent"

    assert len(trace.prompts) == 3 and len(trace.find(kind="prompt")) == 3
    prompt = trace.first(kind="prompt")
    assert prompt.attributes["tracetape.prompt.hash"].startswith("sha256:")
    assert "{shop}" in prompt.attributes["tracetape.prompt.template"][0]["template"]

    retriever = trace.first(kind="retriever")
    assert [d["id"] for d in retriever.output] == ["faq-shipping", "faq-care", "faq-refunds"]
    assert retriever.attributes["tracetape.retriever.search_kwargs"] == {"k": 3}
    assert retriever.parent.tool_name == "search_docs"
    assert _tree(retriever) == {
        "span": "retriever VectorStoreRetriever",
        "children": [{"span": "embedding embeddings DeterministicFakeEmbedding", "children": []}],
    }
    assert [s.tool_name for s in trace.find(kind="tool")] == ["search_docs", "calculator"]
    assert trace.any(kind="tool", contains="12.50") and not trace.any(kind="agent")


def test_tape_span_returns_one_span_linked_into_its_trace(tape, recorded):
    trace = tape.trace(recorded[1][2])
    wanted = trace.first(kind="tool")
    span = tape.span(wanted.span_id)
    assert isinstance(span, SpanNode)
    assert span.to_dict() == wanted.to_dict()
    assert span.trace is not None and span.trace.trace_id == trace.trace_id
    assert span.parent.name == "tools" and span["tool_name"] == "lookup_order"
    assert tape.span(wanted.span_id.upper()).span_id == wanted.span_id
    bundle = span._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert "OrderNotFoundError" in bundle["text/html"] and " open>" in bundle["text/html"]
    assert bundle["text/plain"].startswith(f"span {span.span_id}  trace {trace.trace_id}")
    assert "gen_ai.tool.call.id: call_1_lookup_order" in bundle["text/plain"]
    with pytest.raises(tracetape.NotFoundError, match="no span"):
        tape.span("0" * 16)


def test_trace_display_bundle(tape, recorded):
    trace = tape.trace(recorded[1][0])
    bundle = trace._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"] == trace.text()
    assert bundle["text/plain"].startswith(f"trace {trace.trace_id}  22 spans")
    assert bundle["text/html"].count('<div class="tt-node">') == 22
    assert "How long is shipping to Canada, and what is 3 * 12.50?" in bundle["text/html"]
