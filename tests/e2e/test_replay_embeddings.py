"""Replay of an agent that embeds text itself: vectors come from the tape.

A LangGraph node embeds the question with the real ``OpenAIEmbeddings`` client (against
the loopback OpenAI-compatible server) and picks the nearest policy by hand, outside any
retriever; the model then answers. Recording keeps the texts and vectors whole; a replay
answers the embedding call from the tape, so no provider is contacted.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from tests.fakes.openai_server import Reply, vector
from tests.fakes.openai_server import openai_server as openai_server
from tracetape import ReplayDivergence

POLICIES = {
    "refunds": "Refunds reach the original card within 5-7 business days.",
    "shipping": "Orders ship within two days with ACME Freight.",
}


class State(TypedDict, total=False):
    question: str
    policy: str
    answer: str


def agent(server: Any, prefix: str = "") -> Any:
    """embed -> answer: the nearest policy by cosine, picked without a retriever
    (``prefix``: what a changed app puts before the question it embeds)."""
    embeddings = server.embeddings_model()
    model = server.chat_model()
    policy_vectors = {name: vector(json.dumps(text)) for name, text in POLICIES.items()}

    def embed(state: State) -> State:
        asked = embeddings.embed_query(prefix + state["question"])

        def cosine(v: list[float]) -> float:
            dot = sum(a * b for a, b in zip(asked, v, strict=True))
            return dot / (math.hypot(*asked) * math.hypot(*v))

        best = max(policy_vectors, key=lambda name: cosine(policy_vectors[name]))
        return {"policy": POLICIES[best]}

    def answer(state: State) -> State:
        reply = model.invoke(
            [SystemMessage(f"Policy: {state['policy']}"), HumanMessage(state["question"])]
        )
        return {"answer": str(reply.content)}

    graph = StateGraph(State)
    graph.add_node("embed", embed)
    graph.add_node("answer", answer)
    graph.add_edge(START, "embed")
    graph.add_edge("embed", "answer")
    graph.add_edge("answer", END)
    return graph.compile(name="policy_agent")


QUESTION = {"question": "When do I get my money back?"}


def _record(tape: Any, server: Any) -> tuple[str, Any]:
    server.script(Reply(content="Within 5-7 business days."))
    recorded = agent(server).invoke(QUESTION, config={"callbacks": [tape.langchain()]})
    tape.flush()
    return str(tape.traces().trace_id[0]), recorded


def test_the_embedding_call_is_recorded_with_its_vectors(tape, openai_server):
    trace_id, _ = _record(tape, openai_server)

    spans = tape.sql(
        "select s.attributes->>'tracetape.embedding.method' as method, "
        "s.attributes->>'gen_ai.request.model' as model, "
        "s.attributes->>'gen_ai.embeddings.dimension.count' as dims, "
        "s.attributes->>'tracetape.replay.output' as kept, p.name as parent "
        "from spans s left join (select span_id, name from spans) p "
        "on p.span_id = s.parent_span_id where s.trace_id = ? and s.kind = 'embedding'",
        [trace_id],
    )
    assert spans.method.tolist() == ["embed_query"]
    assert spans.model.tolist() == ["text-embedding-3-small"]
    assert spans.dims.tolist() == ["8"]
    assert spans.parent.tolist() == ["embed"]  # under the LangGraph node that made it
    digest = json.loads(spans.kept[0])[0]
    stored = tape.sql("select content::varchar as c from blobs where hash = ?", [digest])
    assert json.loads(stored.c[0]) == vector(json.dumps(QUESTION["question"]))


def test_playback_answers_the_embedding_from_the_tape(tape, openai_server):
    trace_id, recorded = _record(tape, openai_server)
    assert openai_server.request_count == 2  # the embedding, then the model

    replay = tape.replay(trace_id, app=agent(openai_server))

    assert openai_server.request_count == 2  # no provider contacted
    assert replay.output == recorded
    assert replay.divergences == []
    assert (replay.from_tape, replay.ran_live) == (2, 0)
    kinds = tape.sql(
        "select kind from spans where trace_id = ? and kind in ('embedding', 'llm') "
        "order by start_time",
        [replay.trace_id],
    )
    assert kinds.kind.tolist() == ["embedding", "llm"]


def test_a_changed_embedded_text_diverges_at_the_embedding(tape, openai_server):
    trace_id, _ = _record(tape, openai_server)

    with pytest.raises(ReplayDivergence) as raised:
        tape.replay(trace_id, app=agent(openai_server, prefix="query: "))

    divergence = raised.value.divergence
    assert divergence.kind == "embedding"
    assert "query: When do I get my money back?" in " ".join(divergence.requested)
    assert divergence.recorded == ('embed_query("When do I get my money back?")',)
    assert openai_server.request_count == 2


def test_a_live_embedding_calls_the_provider_again(tape, openai_server):
    trace_id, recorded = _record(tape, openai_server)

    replay = tape.replay(trace_id, app=agent(openai_server), live=("embedding",))

    bodies = openai_server.requests
    assert len(bodies) == 3
    assert (
        bodies[-1]["input"] == [QUESTION["question"]]
        or bodies[-1]["input"] == (QUESTION["question"])
    )
    assert replay.output == recorded  # the same vector, so the same policy and answer
    assert replay.ran_live == 1
