"""LlamaIndex query engines, chat engines and retrieval, recorded into a real tape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import LlamaIndexRecorder

QUESTION = "How long do cats sleep?"


@pytest.fixture
def index() -> Any:
    """A real VectorStoreIndex, built before anything records."""
    return fakes.index()


@pytest.fixture
def recording(tape: Any, index: Any) -> Iterator[LlamaIndexRecorder]:
    """The handler pair ``tape.llamaindex()`` gives, attached for one test."""
    with fakes.attached(tape.recorder) as pair:
        yield pair


def one(tape: Any, query: str, params: list[Any] | None = None) -> dict[str, Any]:
    frame = tape.sql(query, params)
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()


def check_query_trace(tape: Any, trace_id: str | None = None) -> dict[str, Any]:
    """One query engine run: chain -> retriever -> embedding, chain -> prompt + llm."""
    where = "trace_id = ?" if trace_id else "true"
    params = [trace_id] if trace_id else []
    root = one(
        tape,
        f"select span_id, trace_id, name, kind, input, output from spans "
        f"where parent_span_id is null and {where}",
        params,
    )
    assert root["kind"] == "chain"
    assert root["name"] == "RetrieverQueryEngine.query" or root["name"].endswith("aquery")
    assert json.loads(root["output"])["response"]
    params = [root["trace_id"]]
    retriever = one(
        tape,
        "select span_id, parent_span_id, input, output, "
        "attributes->>'tracetape.retriever.class' as cls, "
        "attributes->>'tracetape.retriever.vector_store' as store, "
        "attributes->>'tracetape.retriever.embedding_model' as embedding_model, "
        "attributes->>'gen_ai.retrieval.query.text' as query, "
        "(attributes->'tracetape.retriever.search_kwargs'->>'similarity_top_k')::INT as k, "
        "(attributes->>'tracetape.retriever.k')::INT as top_k, "
        "(attributes->>'tracetape.retriever.document_count')::INT as n_docs, "
        "attributes->'tracetape.retriever.scores' as scores, "
        "attributes->>'tracetape.replay.output' as replay "
        "from spans where kind = 'retriever' and trace_id = ?",
        params,
    )
    assert retriever["parent_span_id"] == root["span_id"]
    assert retriever["cls"].endswith("VectorIndexRetriever")
    assert retriever["store"].endswith("SimpleVectorStore")
    assert retriever["embedding_model"].startswith(
        "llama_index.core.embeddings.mock_embed_model.MockEmbedding"
    )
    assert (retriever["k"], retriever["top_k"], retriever["n_docs"]) == (2, 2, 2)
    assert retriever["query"] == QUESTION
    assert len(json.loads(retriever["scores"])) == 2
    documents = json.loads(retriever["output"])
    assert all(d["id"] and d["metadata"]["topic"] and d["content"] for d in documents)
    assert {d["metadata"]["topic"] for d in documents} <= {"cats", "dogs", "bees"}
    assert len(json.loads(retriever["replay"])) == 1
    embedding = one(
        tape,
        "select parent_span_id, model, "
        "(attributes->>'tracetape.embedding.input_count')::INT as n, "
        "(attributes->>'gen_ai.embeddings.dimension.count')::INT as dims, "
        "attributes->>'tracetape.model.class' as cls "
        "from spans where kind = 'embedding' and trace_id = ?",
        params,
    )
    assert embedding["parent_span_id"] == retriever["span_id"]
    assert (embedding["n"], embedding["dims"]) == (1, fakes.DIMENSIONS)
    assert embedding["cls"].endswith("MockEmbedding")
    synth = one(
        tape,
        "select span_id, name from spans where kind = 'chain' and name like '%synthesize' "
        "and trace_id = ?",
        params,
    )
    prompt = one(
        tape,
        "select parent_span_id, input, output, "
        "attributes->>'tracetape.prompt.hash' as hash, "
        "attributes->'tracetape.prompt.input_variables' as variables, "
        "attributes->'tracetape.prompt.template' as template "
        "from spans where kind = 'prompt' and trace_id = ?",
        params,
    )
    assert prompt["hash"].startswith("sha256:")
    assert "query_str" in json.loads(prompt["variables"])
    assert "{context_str}" in json.dumps(json.loads(prompt["template"]))
    values = json.loads(prompt["input"])
    assert values["query_str"] == QUESTION
    assert documents[0]["content"] in values["context_str"]
    assert QUESTION in json.dumps(json.loads(prompt["output"]))
    llm = one(
        tape,
        "select span_id, parent_span_id, model, output, "
        "attributes->>'gen_ai.operation.name' as op, "
        "attributes->>'gen_ai.provider.name' as provider, "
        "attributes->>'tracetape.model.class' as cls, "
        "attributes->'gen_ai.input.messages' as messages, "
        "attributes->>'tracetape.replay.input' as replay_in, "
        "attributes->>'tracetape.replay.output' as replay_out "
        "from spans where kind = 'llm' and trace_id = ?",
        params,
    )
    assert llm["op"] == "text_completion"
    assert llm["provider"] == "llamaindex"
    assert llm["cls"].endswith("MockLLM")
    assert QUESTION in json.dumps(json.loads(llm["messages"]))
    assert json.loads(llm["output"])[0]["role"] == "assistant"
    assert llm["replay_in"] and llm["replay_out"]
    # prompt and llm share the predict chain, which hangs under the synthesizer
    predict = one(
        tape,
        "select parent_span_id from spans where span_id = ?",
        [llm["parent_span_id"]],
    )
    assert prompt["parent_span_id"] == llm["parent_span_id"]
    ancestors = tape.sql(
        "with recursive up(span_id, parent_span_id) as ("
        "  select span_id, parent_span_id from spans where span_id = ? "
        "  union all select s.span_id, s.parent_span_id from spans s "
        "  join up on s.span_id = up.parent_span_id) select span_id from up",
        [predict["parent_span_id"]],
    )
    assert synth["span_id"] in set(ancestors["span_id"])
    return root


def test_query_engine(tape, index, recording):
    engine = index.as_query_engine(similarity_top_k=2)
    answer = engine.query(QUESTION)
    assert str(answer)
    tape.flush()
    check_query_trace(tape)
    kinds = tape.sql("select distinct kind from spans order by kind")["kind"].tolist()
    assert kinds == ["chain", "embedding", "llm", "prompt", "retriever"]


def test_async_concurrent_queries_are_separate_traces(tape, index, recording):
    engine = index.as_query_engine(similarity_top_k=2)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(engine.aquery(QUESTION) for _ in range(4))))

    answers = asyncio.run(main())
    assert len(answers) == 4
    tape.flush()
    traces = tape.sql("select distinct trace_id from spans")["trace_id"].tolist()
    assert len(traces) == 4
    for trace_id in traces:
        check_query_trace(tape, trace_id)
    # every span's parent is in its own trace
    strays = tape.sql(
        "select count(*) from spans c join spans p on c.parent_span_id = p.span_id "
        "where c.trace_id <> p.trace_id"
    ).iloc[0, 0]
    assert strays == 0
