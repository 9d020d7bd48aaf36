"""LlamaIndex model calls: streaming, errors, and instrumenting the whole process."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index_instrumentation.span import active_span_id

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import (
    LlamaIndexRecorder,
    _compat,
    handlers,
    instrument_llamaindex,
    is_instrumented,
    uninstrument_llamaindex,
)
from tracetape.spans.recorder import current_capture_span

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
    # after every span of the query closed; the query's span stays open until its
    # stream ends, so the model call (its predict chain, prompt and llm span) nests
    # under it, in the query's trace.
    spans = tape.sql(
        "select span_id, parent_span_id, kind, name, start_time, end_time, output "
        "from spans order by start_time"
    )
    assert spans["kind"].tolist() == [
        "chain", "retriever", "embedding", "chain", "chain", "prompt", "llm"
    ]  # fmt: skip
    assert tape.sql("select count(distinct trace_id) as n from spans").n[0] == 1
    root = spans.iloc[0]
    stream = spans[spans["name"].str.endswith(".stream")].iloc[0]
    assert stream["parent_span_id"] == root["span_id"]
    assert root["end_time"] >= spans["end_time"].max()
    assert json.loads(root["output"])["response"] == "Sixteen hours a day."
    # the reader's context is left as it was: what starts next is a trace of its own
    assert (current_capture_span.get(), active_span_id.get()) == (None, None)


def test_a_stream_never_read_ends_the_query_span_when_collected(tape, index, recording):
    llm = fakes.ScriptedToolLLM(script=["Sixteen hours a day."])
    engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)
    response = engine.query(QUESTION)
    del response  # the answer is never read: no model call
    gc.collect()
    assert llm.calls == 0
    tape.flush()
    root = tape.sql("select status, output from spans where parent_span_id is null")
    assert root.status.tolist() == ["ok"]
    assert json.loads(root.output[0])["response"] == ""
    # (the fixture checks that no span was left open)


def test_a_stream_collected_under_its_table_lock_ends_without_deadlock(tape, index, recording):
    # GC may run the finalizer of an unread stream on a thread that holds the table's
    # lock (inside RunTable.end): ending the query span takes that lock again.
    llm = fakes.ScriptedToolLLM(script=["Sixteen hours a day."])
    engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)
    response = engine.query(QUESTION)
    lock = recording.span_handler.table._lock
    with lock:
        assert lock.acquire(blocking=False)  # reentrant: the same thread may take it
        lock.release()
        del response
        gc.collect()
    tape.flush()
    root = tape.sql("select status from spans where parent_span_id is null")
    assert root.status.tolist() == ["ok"]


def test_a_stream_closed_early_ends_the_query_span_with_what_was_read(tape, index, recording):
    llm = fakes.ScriptedToolLLM(script=["Sixteen hours a day."])
    engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)
    response = engine.query(QUESTION)
    assert next(response.response_gen) == "Sixteen"
    response.response_gen.close()
    tape.flush()
    root = tape.sql("select status, output from spans where parent_span_id is null")
    assert root.status.tolist() == ["ok"]
    assert json.loads(root.output[0])["response"] == "Sixteen"
    llm_span = llm_row(tape)  # the model's stream was left unread: marked, not failed
    assert (llm_span["incomplete"], llm_span["status"]) == ("true", "unset")


def test_an_async_streaming_query_records_its_answer_in_its_trace(tape, index, recording):
    llm = fakes.ScriptedToolLLM(script=["Sixteen hours a day."])
    engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)

    async def main() -> str:
        response = await engine.aquery(QUESTION)
        return "".join([token async for token in response.response_gen])

    # A loop of its own: asyncio.run would unset the loop LlamaIndex's token counting
    # left behind for the thread (asyncio_run), which then warns as it is collected.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == "Sixteen hours a day."
    finally:
        loop.close()
    tape.flush()
    per_trace = tape.sql(
        "select list(kind order by start_time) as kinds from spans group by trace_id"
    )["kinds"].tolist()
    assert len(per_trace) == 1
    assert {"chain", "retriever", "llm"} <= set(per_trace[0])
    root = tape.sql("select output from spans where parent_span_id is null").iloc[0]
    assert json.loads(root["output"])["response"] == "Sixteen hours a day."


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


def test_a_custom_llm_async_stream_is_one_model_call(tape, index, recording):
    # CustomLLM.astream_complete calls stream_complete only as its stream is read: the
    # same call, not a second one.
    llm = fakes.CountingLLM()
    engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)

    async def main() -> str:
        response = await engine.aquery(QUESTION)
        return "".join([token async for token in response.response_gen])

    loop = asyncio.new_event_loop()  # (see the test above)
    try:
        text = loop.run_until_complete(main())
    finally:
        loop.close()
    assert text.startswith("answer to:") and llm.calls == 1
    tape.flush()
    llm_span = llm_row(tape)
    assert llm_span["status"] == "ok" and pd.isna(llm_span["incomplete"])
    assert json.loads(llm_span["output"])[0]["parts"][0]["content"] == text


UNREAD_AT_EXIT = """
import sys

import tracetape
from tests.fakes import llamaindex as fakes

index = fakes.index()
tape = tracetape.open(sys.argv[1])
tracetape.instrument(tape)
llm = fakes.ScriptedToolLLM(script=["Sixteen hours a day."])
engine = index.as_query_engine(streaming=True, llm=llm, similarity_top_k=2)
response = engine.query("How long do cats sleep?")
print(len(response.source_nodes))  # the answer itself is never read
"""


@pytest.mark.parametrize("closes_the_tape", [False, True])
def test_a_stream_still_unread_at_exit_ends_the_query_span_as_incomplete(tmp_path, closes_the_tape):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import tracetape

    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "unread_at_exit.py"
    # Closing the tape with the answer unread ends the query span there, as exiting does.
    script.write_text(UNREAD_AT_EXIT + ("tape.close()\n" if closes_the_tape else ""))
    path = tmp_path / "tape.duckdb"
    done = subprocess.run(
        [sys.executable, str(script), str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "TRACETAPE_STRICT": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "2"
    tape = tracetape.open(path)
    try:
        traces = tape.traces()
        assert len(traces) == 1
        root_span = tape.sql(
            "select name, end_time, status, "
            "attributes->>'tracetape.incomplete' as incomplete "
            "from spans where parent_span_id is null"
        )
        assert len(root_span) == 1
        assert root_span.name[0].endswith(".query")
        assert root_span.end_time.notna().all()
        assert root_span.incomplete[0] == "true"
        assert traces.name[0] == root_span.name[0]
    finally:
        tape.close()
