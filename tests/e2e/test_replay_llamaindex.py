"""Replay of LlamaIndex apps through the public surface: a real VectorStoreIndex, real
query and chat engines, a counting MockLLM and a counting MockEmbedding."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import PromptTemplate

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import LlamaIndexRecorder
from tracetape.replay import Replay, ReplayDivergence

QUESTION = "How long do cats sleep?"
TERSE = PromptTemplate("Answer tersely.\n{context_str}\nQ: {query_str}\nA: ")


@pytest.fixture
def embed() -> fakes.CountingEmbedding:
    return fakes.CountingEmbedding(embed_dim=fakes.DIMENSIONS)


@pytest.fixture
def index(embed: fakes.CountingEmbedding) -> Any:
    return fakes.index(embed)


@pytest.fixture
def recording(tape: Any) -> Iterator[LlamaIndexRecorder]:
    with fakes.attached(tape.recorder) as pair:
        yield pair


def record(tape: Any, engine: Any) -> tuple[str, Any]:
    answer = engine.query(QUESTION)
    tape.flush()
    return str(tape.traces().trace_id[0]), answer


def sources(response: Any) -> list[tuple[str, str, float | None]]:
    return [(n.node.node_id, n.node.get_content(), n.score) for n in response.source_nodes]


def test_a_query_engine_replays_without_model_or_embeddings(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, recorded = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    assert (llm.calls, embed.queries) == (1, 1)

    replay = tape.replay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=2))

    assert isinstance(replay, Replay)
    assert (llm.calls, embed.queries) == (1, 1)  # neither model was asked
    assert str(replay.output) == str(recorded)
    assert str(replay.output).startswith("answer to: Context information is below.")
    assert sources(replay.output) == sources(recorded)
    assert replay.divergences == []
    tape.flush()
    row = tape.sql(
        "select replay_of, n_llm, n_retriever from traces where trace_id = ?", [replay.trace_id]
    )
    assert row.to_dict("records") == [{"replay_of": trace_id, "n_llm": 1, "n_retriever": 1}]
    assert (
        tape.sql("select replay_of from traces where trace_id = ?", [trace_id])
        .replay_of.isna()
        .all()
    )
    # the replayed spans hold the played-back nodes and answer, as the recording does
    spans = "select kind, output from spans where trace_id = ? and kind in ('llm', 'retriever') "
    original = tape.sql(spans + "order by start_time", [trace_id])
    played = tape.sql(spans + "order by start_time", [replay.trace_id])
    assert played.kind.tolist() == ["retriever", "llm"]
    assert played.output.tolist() == original.output.tolist()


def test_a_changed_prompt_template_diverges_at_the_model_call(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, _ = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    changed = index.as_query_engine(llm=llm, similarity_top_k=2, text_qa_template=TERSE)

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=changed)

    divergence = caught.value.divergence
    recorded_llm = tape.sql(
        "select span_id, name from spans where trace_id = ? and kind = 'llm'", [trace_id]
    ).iloc[0]
    assert (divergence.kind, divergence.position) == ("llm", 1)
    assert (divergence.span_id, divergence.name) == (recorded_llm.span_id, recorded_llm["name"])
    assert "-prompt: Context information is below." in divergence.diff
    assert "+prompt: Answer tersely." in divergence.diff
    assert "+  Q: How long do cats sleep?" in divergence.diff
    assert "Answer tersely" in str(caught.value)
    assert llm.calls == 1
    partial = caught.value.replay
    assert partial is not None and partial.replay_of == trace_id
    tape.flush()
    assert tape.sql(
        "select replay_of from traces where trace_id = ?", [partial.trace_id]
    ).replay_of.tolist() == [trace_id]


def test_live_model_sends_the_new_prompt_and_retrieval_stays_on_tape(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, recorded = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    changed = index.as_query_engine(llm=llm, similarity_top_k=2, text_qa_template=TERSE)

    replay = tape.replay(trace_id, app=changed, live=("llm",))

    assert llm.calls == 2
    assert embed.queries == 1  # retrieval answered from the tape
    assert str(replay.output).startswith("answer to: Answer tersely.")
    assert sources(replay.output) == sources(recorded)
    tape.flush()
    sent = tape.sql(
        "select attributes->>'gen_ai.input.messages' as m from spans "
        "where trace_id = ? and kind = 'llm'",
        [replay.trace_id],
    ).m[0]
    assert "Answer tersely." in sent


def test_a_changed_retriever_config_diverges_at_the_retrieval(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, _ = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=1))

    divergence = caught.value.divergence
    assert (divergence.kind, divergence.position) == ("retriever", 0)
    assert '"similarity_top_k":2' in divergence.diff
    assert '"similarity_top_k":1' in divergence.diff
    assert (llm.calls, embed.queries) == (1, 1)


def test_an_async_query_replays_with_areplay(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    recorded = asyncio.run(engine.aquery(QUESTION))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = asyncio.run(
        tape.areplay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=2))
    )

    assert (llm.calls, embed.queries) == (1, 1)
    assert str(replay.output) == str(recorded)
    assert sources(replay.output) == sources(recorded)
    tape.flush()
    row = tape.sql("select name, replay_of from traces where trace_id = ?", [replay.trace_id])
    assert row.replay_of.tolist() == [trace_id]


def memory() -> Any:
    """An in-process chat memory (the default opens an aiosqlite engine nobody closes)."""
    from llama_index.core.memory import ChatMemoryBuffer

    return ChatMemoryBuffer.from_defaults(token_limit=100_000, tokenizer_fn=str.split)


def test_a_chat_engine_replays(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    engine = index.as_chat_engine(chat_mode="context", llm=llm, memory=memory())
    recorded = engine.chat(QUESTION)
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    assert llm.calls == 1

    fresh = index.as_chat_engine(chat_mode="context", llm=llm, memory=memory())  # empty
    replay = tape.replay(trace_id, app=fresh)

    assert (llm.calls, embed.queries) == (1, 1)
    assert replay.output.response == recorded.response
    assert sources(replay.output) == sources(recorded)
    assert [m.content for m in fresh.chat_history] == [QUESTION, recorded.response]
