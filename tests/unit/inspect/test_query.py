"""The query API over span trees, on hand-built span frames (no tape, no LangChain)."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from tracetape.errors import NotFoundError
from tracetape.inspect.span import SpanNode
from tracetape.inspect.trace import Trace

TRACE_ID = "cd" * 16
T0 = pd.Timestamp("2025-01-01", tz="UTC")


def _span(n: int, parent: int | None, name: str, kind: str, **extra: object) -> dict:
    row = {
        "trace_id": TRACE_ID,
        "span_id": f"{n:016x}",
        "parent_span_id": None if parent is None else f"{parent:016x}",
        "name": name,
        "kind": kind,
        "operation": None,
        "start_time": T0 + pd.Timedelta(milliseconds=10 * n),
        "end_time": T0 + pd.Timedelta(milliseconds=10 * n + 5),
        "duration_ms": 5.0,
        "status": "ok",
        "status_message": None,
        "error_type": None,
        "model": None,
        "provider": None,
        "tool_name": None,
        "input": None,
        "output": None,
        "attributes": "{}",
        "input_tokens": math.nan,
        "output_tokens": math.nan,
        "tags": None,
        "replayable": None,
    }
    row.update(extra)
    return row


def _sid(n: int) -> str:
    return f"{n:016x}"


ROWS = [
    _span(1, None, "agent", "graph", duration_ms=900.0, tags=["nightly"]),
    _span(2, 1, "agent", "node", attributes=json.dumps({"tracetape.langgraph.node": "agent"})),
    _span(
        3,
        2,
        "ChatOpenAI",
        "llm",
        model="gpt-4o-2024-08-06",
        provider="openai",
        input_tokens=120.0,
        output_tokens=30.0,
        input=json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Refund?"}]}]),
        output=json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Sure"}]}]),
        attributes=json.dumps({"gen_ai.request.model": "gpt-4o", "gen_ai.request.temperature": 0}),
    ),
    _span(4, 1, "tools", "node", attributes=json.dumps({"tracetape.langgraph.node": "tools"})),
    _span(
        5,
        4,
        "lookup_order",
        "tool",
        tool_name="lookup_order",
        status="error",
        error_type="shop.OrderNotFoundError",
        status_message="no order Z-9",
        duration_ms=700.0,
        input=json.dumps({"order_id": "Z-9"}),
    ),
    _span(6, 4, "search", "tool", tool_name="search", input='{"q": "refunds"}', output='"ok"'),
    _span(7, 6, "VectorStoreRetriever", "retriever", output='[{"id": "faq-1"}]'),
    _span(8, 1, "ChatPromptTemplate", "prompt", model=None),
]


@pytest.fixture
def trace() -> Trace:
    # Shuffled: the tree is built by parent ids and start times, not by frame order.
    frame = pd.DataFrame(ROWS).sample(frac=1, random_state=3)
    return Trace(TRACE_ID, frame)


def _names(nodes: list[SpanNode]) -> list[str]:
    return [n.name for n in nodes]


def _tree(node: SpanNode) -> dict:
    return {"name": node.name, "kind": node.kind, "children": [_tree(c) for c in node.children]}


def test_tree_is_built_from_parent_ids_in_start_order(trace):
    assert [_tree(r) for r in trace.roots] == [
        {
            "name": "agent",
            "kind": "graph",
            "children": [
                {
                    "name": "agent",
                    "kind": "node",
                    "children": [{"name": "ChatOpenAI", "kind": "llm", "children": []}],
                },
                {
                    "name": "tools",
                    "kind": "node",
                    "children": [
                        {"name": "lookup_order", "kind": "tool", "children": []},
                        {
                            "name": "search",
                            "kind": "tool",
                            "children": [
                                {
                                    "name": "VectorStoreRetriever",
                                    "kind": "retriever",
                                    "children": [],
                                }
                            ],
                        },
                    ],
                },
                {"name": "ChatPromptTemplate", "kind": "prompt", "children": []},
            ],
        }
    ]
    assert [(d, n.name) for d, n in trace.walk()][:4] == [
        (0, "agent"),
        (1, "agent"),
        (2, "ChatOpenAI"),
        (1, "tools"),
    ]
    assert len(trace) == 8 and len(list(trace)) == 8


def test_span_columns_as_attributes(trace):
    llm = trace.span(_sid(3))
    assert (llm.kind, llm.model, llm.provider) == ("llm", "gpt-4o-2024-08-06", "openai")
    assert (llm.input_tokens, llm.output_tokens, llm.duration_ms) == (120, 30, 5.0)
    assert llm.input == [{"role": "user", "parts": [{"type": "text", "content": "Refund?"}]}]
    assert llm.attributes == {"gen_ai.request.model": "gpt-4o", "gen_ai.request.temperature": 0}
    assert llm.start_time == T0 + pd.Timedelta(milliseconds=30)
    assert llm.status_message is None and llm.tool_name is None and not llm.failed
    assert trace.root.tags == ["nightly"] and llm.tags == []
    # The dict tape.span used to return still reads the same way.
    assert llm["name"] == "ChatOpenAI" and llm.get("model") == "gpt-4o-2024-08-06"
    assert llm.get("no_such_column", "x") == "x"
    with pytest.raises(KeyError):
        llm["no_such_column"]
    assert (
        llm.to_dict()["input_tokens"] == 120 and llm.to_dict()["output"][0]["role"] == "assistant"
    )
    assert repr(llm) == "SpanNode(llm 'ChatOpenAI' 0000000000000003, 5.0 ms, ok)"


def test_links(trace):
    retriever = trace.span(_sid(7))
    assert retriever.parent is trace.span(_sid(6))
    assert _names(retriever.ancestors) == ["search", "tools", "agent"]
    assert retriever.depth == 3 and trace.root.depth == 0
    assert _names(trace.span(_sid(4)).descendants) == [
        "lookup_order",
        "search",
        "VectorStoreRetriever",
    ]
    assert retriever.trace is trace
    with pytest.raises(NotFoundError, match="no span"):
        trace.span("f" * 16)


def test_find_first_any_by_filters(trace):
    assert _names(trace.find(kind="tool")) == ["lookup_order", "search"]
    assert _names(trace.find(kind=["llm", "retriever"])) == ["ChatOpenAI", "VectorStoreRetriever"]
    assert _names(trace.find(name="agent")) == ["agent", "agent"]
    assert _names(trace.find(name=re.compile("^Chat"))) == ["ChatOpenAI", "ChatPromptTemplate"]
    assert _names(trace.find(name_contains="Retriev")) == ["VectorStoreRetriever"]
    assert _names(trace.find(failed=True)) == ["lookup_order"]
    assert len(trace.find(failed=False)) == 7
    assert _names(trace.find(status="error")) == ["lookup_order"]
    assert _names(trace.find(error_type=re.compile("NotFound"))) == ["lookup_order"]
    assert _names(trace.find(model=re.compile(r"gpt-4o"))) == ["ChatOpenAI"]
    assert _names(trace.find(provider="openai")) == ["ChatOpenAI"]
    assert _names(trace.find(tool_name={"search", "other"})) == ["search"]
    assert _names(trace.find(min_duration_ms=600)) == ["agent", "lookup_order"]
    assert _names(trace.find(max_duration_ms=5, kind="tool")) == ["search"]
    assert _names(trace.find(attributes={"tracetape.langgraph.node": "tools"})) == ["tools"]
    assert _names(trace.find(has_attribute="gen_ai.request.temperature")) == ["ChatOpenAI"]
    assert _names(trace.find(contains="REFUND")) == ["ChatOpenAI", "search"]
    assert _names(trace.find(span_id=_sid(8))) == ["ChatPromptTemplate"]
    assert trace.find(kind="embedding") == []

    assert trace.first(kind="tool").name == "lookup_order"
    assert trace.first(kind="agent") is None
    assert trace.any(kind="retriever") and not trace.any(kind="embedding")


def test_predicates_combine_with_filters_and_look_along_the_tree(trace):
    assert _names(trace.find(lambda s: (s.input_tokens or 0) > 100)) == ["ChatOpenAI"]
    # A node with a failed tool under it, the way pydantic_evals' some_child_has reads.
    assert _names(trace.find(lambda s: s.any_child(kind="tool", failed=True))) == ["tools"]
    assert _names(trace.find(lambda s: s.any_ancestor(name="tools"), kind="retriever")) == [
        "VectorStoreRetriever"
    ]
    assert trace.first(lambda s: s.duration_ms > 100, kind="tool").name == "lookup_order"
    assert trace.any(lambda s: s.first_descendant(kind="retriever") is not None, kind="node")


def test_node_queries_over_children_descendants_ancestors(trace):
    root, tools = trace.root, trace.span(_sid(4))
    assert _names(root.find_children(kind="node")) == ["agent", "tools"]
    assert root.first_child(kind="prompt").name == "ChatPromptTemplate"
    assert not root.any_child(kind="tool") and root.any_descendant(kind="tool")
    assert _names(root.find(kind="tool")) == _names(root.find_descendants(kind="tool"))
    assert root.first(kind="tool", failed=True).name == "lookup_order"
    assert root.any(kind="retriever") and not tools.any(kind="llm")
    retriever = trace.span(_sid(7))
    assert _names(retriever.find_ancestors(kind="node")) == ["tools"]
    assert retriever.first_ancestor(kind="graph") is root
    assert not retriever.any_ancestor(kind="llm")
    assert retriever.find_descendants() == [] and retriever.first_descendant() is None


def test_mistakes_fail_loudly(trace):
    with pytest.raises(TypeError, match="unknown span filter"):
        trace.find(knd="tool")  # pyright: ignore[reportCallIssue]
    with pytest.raises(ValueError, match="unknown span kind"):
        trace.find(kind="tools")
    with pytest.raises(TypeError, match="predicate"):
        trace.find("lookup_order")  # pyright: ignore[reportArgumentType]


def test_dataframes_and_summary(trace):
    assert trace.llm_calls.name.tolist() == ["ChatOpenAI"]
    assert sorted(trace.tool_calls.name) == ["lookup_order", "search"]
    assert trace.retrievals.name.tolist() == ["VectorStoreRetriever"]
    assert trace.prompts.name.tolist() == ["ChatPromptTemplate"]
    assert (trace.name, trace.status) == ("agent", "error")
    assert trace.duration_ms == pytest.approx(75.0)  # first start to last end
    assert trace.scores.empty and list(trace.scores.columns)[:3] == ["trace_id", "span_id", "name"]


def test_scores_by_span():
    scores = pd.DataFrame(
        [
            {"trace_id": TRACE_ID, "span_id": None, "name": "helpful", "value": 1.0},
            {"trace_id": TRACE_ID, "span_id": _sid(3), "name": "tone", "value": 0.25},
        ]
    )
    trace = Trace(TRACE_ID, pd.DataFrame(ROWS), scores)
    assert trace.scores.name.tolist() == ["helpful", "tone"]
    assert trace.span(_sid(3)).scores.name.tolist() == ["tone"]
    assert trace.span(_sid(5)).scores.empty
    assert SpanNode(ROWS[0]).scores.empty  # a span on its own has no trace to ask


def test_orphans_and_parent_cycles_still_show_every_span():
    rows = [
        _span(1, 9, "orphan", "chain"),  # parent not recorded: a root
        _span(2, 3, "a", "chain"),  # 2 and 3 point at each other (a corrupt record)
        _span(3, 2, "b", "chain"),
        _span(4, 4, "self", "chain"),
    ]
    trace = Trace(TRACE_ID, pd.DataFrame(rows))
    assert sorted(n.name for n in trace) == ["a", "b", "orphan", "self"]
    assert trace.root.name == "orphan"
    assert trace.span(_sid(4)).parent is None


def test_a_trace_without_spans():
    trace = Trace(TRACE_ID, pd.DataFrame([_span(1, None, "x", "chain")]).iloc[0:0])
    assert list(trace) == [] and trace.find() == [] and trace.first() is None
    with pytest.raises(NotFoundError):
        trace.root  # noqa: B018 - the property raises
