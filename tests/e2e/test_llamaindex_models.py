"""LlamaIndex model calls: streaming, errors, and instrumenting the whole process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from llama_index.core.base.llms.types import ChatMessage

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import (
    LlamaIndexRecorder,
    _compat,
    handlers,
    instrument_llamaindex,
    is_instrumented,
    uninstrument_llamaindex,
)

QUESTION = "How long do cats sleep?"


@pytest.fixture
def index() -> Any:
    return fakes.index()


@pytest.fixture
def recording(tape: Any, index: Any) -> Iterator[LlamaIndexRecorder]:
    with fakes.attached(tape.recorder) as pair:
        yield pair


def llm_row(tape: Any) -> dict[str, Any]:
    frame = tape.sql(
        "select span_id, parent_span_id, status, output, "
        "attributes->>'tracetape.model.streamed' as streamed, "
        "attributes->>'tracetape.model.time_to_first_token_ms' as ttft, "
        "attributes->>'tracetape.incomplete' as incomplete, "
        "attributes->>'error.type' as error_type "
        "from spans where kind = 'llm'"
    )
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()


def test_streamed_chat_ends_when_the_stream_does(tape, recording):
    llm = fakes.ScriptedToolLLM(script=["Cats sleep a lot."])
    chunks = list(llm.stream_chat([ChatMessage(role="user", content=QUESTION)]))
    assert chunks[-1].message.content == "Cats sleep a lot."
    tape.flush()
    row = llm_row(tape)
    assert row["streamed"] == "true" and float(row["ttft"]) >= 0
    assert pd.isna(row["incomplete"])
    message = json.loads(row["output"])[0]
    assert message["parts"][0]["content"] == "Cats sleep a lot."


def test_streaming_query_engine_records_the_answer_read_after_the_query(tape, index, recording):
    llm = fakes.ScriptedToolLLM(script=["Sixteen hours a day."])
    engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)
    response = engine.query(QUESTION)
    text = "".join(response.response_gen)  # read after query() returned
    assert text == "Sixteen hours a day."
    tape.flush()
    row = llm_row(tape)
    assert pd.isna(row["incomplete"])
    assert "Sixteen hours a day." in row["output"]
    # LlamaIndex starts the streamed model call lazily, when the answer is first read,
    # outside every span of the query (its own parent id is None): it is a trace of its
    # own, with the predict chain, the prompt and the llm span.
    kinds = tape.sql(
        "select trace_id, list(kind order by start_time) kinds from spans group by trace_id "
        "order by min(start_time)"
    )["kinds"].tolist()
    assert [list(k) for k in kinds] == [
        ["chain", "retriever", "embedding", "chain"],
        ["chain", "prompt", "llm"],
    ]


def test_a_failing_model_call_is_an_error_span_and_reaches_the_caller(tape, index, recording):
    llm = fakes.ScriptedToolLLM(script=[RuntimeError("provider down")])
    engine = index.as_query_engine(llm=llm)
    with pytest.raises(RuntimeError, match="provider down"):
        engine.query(QUESTION)
    tape.flush()
    row = llm_row(tape)
    assert (row["status"], row["error_type"]) == ("error", "RuntimeError")
    root = tape.sql(
        "select status, attributes->>'error.type' as error_type "
        "from spans where parent_span_id is null"
    ).iloc[0]
    assert (root["status"], root["error_type"]) == ("error", "RuntimeError")


def test_instrument_is_idempotent_and_removable(tape, index):
    root = _compat.root_dispatcher()
    before = (len(root.span_handlers), len(root.event_handlers))
    try:
        pair = handlers(tape.recorder)  # what tape.llamaindex() returns
        assert instrument_llamaindex(pair)
        assert instrument_llamaindex(pair)
        assert instrument_llamaindex(tape.recorder)  # the same tape: still one pair
        assert is_instrumented()
        assert (len(root.span_handlers), len(root.event_handlers)) == (before[0] + 1, before[1] + 1)
        index.as_retriever().retrieve(QUESTION)
    finally:
        uninstrument_llamaindex()
    assert not is_instrumented()
    assert (len(root.span_handlers), len(root.event_handlers)) == before
    index.as_retriever().retrieve(QUESTION)  # not recorded
    tape.flush()
    assert tape.sql("select count(*) from spans where kind = 'retriever'").iloc[0, 0] == 1


def test_tracetape_instrument_also_records_llamaindex(tape):
    from llama_index.core.llms import MockLLM

    import tracetape

    tracetape.instrument(tape)
    try:
        MockLLM(max_tokens=8).complete("hello there")
    finally:
        tracetape.uninstrument()
    MockLLM(max_tokens=8).complete("not recorded")
    tape.flush()
    rows = tape.sql("select kind from spans where kind = 'llm'")
    assert len(rows) == 1
