"""A trace replayed again is read from the tape once: its `Recording` is kept while the
tape is open (bounded), each replay gets its own root input, a deleted trace is
forgotten, and a trace that ended a moment ago is found in the writer's queue, also when
part of it was written already."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda

import tracetape
from tracetape.errors import NotFoundError
from tracetape.replay import ReplayDivergence, requests
from tracetape.replay import recordings as recordings_module
from tracetape.replay.recordings import Recordings
from tracetape.replay.session import Source, published


def chain(answer: str = "Paris.") -> Any:
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    return prompt | FakeListChatModel(responses=[answer])


def record(tape: Any, question: str) -> str:
    chain().invoke({"question": question}, config={"callbacks": [tape.langchain()]})
    tape.flush()
    return str(tape.traces().trace_id[0])


class Counted:
    """The tape's own reader, counting the queries it is asked."""

    def __init__(self, tape: Any) -> None:
        self.tape, self.count = tape, 0

    def __call__(self, query: str, params: Any, *, scope: Any = None) -> pa.Table:
        self.count += 1
        return self.tape._tape_reader.arrow(query, params, scope=scope)


def test_a_trace_replayed_again_is_not_read_again(tape):
    trace_id = record(tape, "Capital of France?")
    query = Counted(tape)
    kept = Recordings(query, tape.flush)

    first = kept.get(trace_id)
    reads = query.count
    again = kept.get(trace_id.upper())

    assert reads == 2  # the spans, then the blobs they name
    assert query.count == reads
    assert again.calls == first.calls and again.blobs is first.blobs


def test_each_replay_gets_its_own_root_input(tape):
    trace_id = record(tape, "Capital of France?")
    kept = Recordings(Counted(tape), tape.flush)

    kept.get(trace_id).root_input["question"] = "changed by the app"

    assert kept.get(trace_id).root_input == {"question": "Capital of France?"}


def test_the_oldest_recording_goes_first_when_more_are_kept_than_the_bound(tape, monkeypatch):
    monkeypatch.setattr(recordings_module, "_KEEP", 2)
    ids = [record(tape, f"Question {n}?") for n in range(3)]
    query = Counted(tape)
    kept = Recordings(query, tape.flush)
    for trace_id in ids:
        kept.get(trace_id)

    reads = query.count
    kept.get(ids[2])
    assert query.count == reads  # kept
    kept.get(ids[0])
    assert query.count == reads + 2  # dropped, read again


def test_a_deleted_trace_is_not_replayed_from_memory(tape):
    trace_id = record(tape, "Capital of France?")
    app = chain()
    tape.replay(trace_id, app=app)

    tape.delete(trace_id)

    with pytest.raises(NotFoundError, match=trace_id):
        tape.replay(trace_id, app=app)


def test_each_stored_message_is_keyed_once_for_the_recording_and_the_re_run(tape, monkeypatch):
    prompt = ChatPromptTemplate.from_messages([("system", "Be terse."), ("human", "{question}")])
    app = prompt | FakeListChatModel(responses=["Paris."])
    app.invoke({"question": "Capital of France?"}, config={"callbacks": [tape.langchain()]})
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    keyed: list[Any] = []
    message_key = requests.message_key
    monkeypatch.setattr(requests, "message_key", lambda m: keyed.append(m) or message_key(m))

    first = tape.replay(trace_id, app=app)
    # The re-run stores each message as the recording did: the same payload hashes are
    # the same request, and nothing needs keying.
    assert first.same_output and keyed == []
    terse = ChatPromptTemplate.from_messages([("system", "Be terser."), ("human", "{question}")])
    changed = terse | FakeListChatModel(responses=["Paris."])
    with pytest.raises(ReplayDivergence):
        tape.replay(trace_id, app=changed)
    # Told apart by key where the stored texts differ: the recorded system message's and
    # the re-run's (the comparison stops at the first that differs).
    assert len(keyed) == 2
    with pytest.raises(ReplayDivergence):
        tape.replay(trace_id, app=changed)
    # The recording's keys are kept with it; only the re-run's own new text is keyed again.
    assert len(keyed) == 3


def slow_chain(seconds: float) -> Any:
    def slow(value: Any) -> Any:
        time.sleep(seconds)
        return value

    return chain() | RunnableLambda(slow)


def test_a_replay_s_own_trace_replays_at_once(tmp_path, monkeypatch):
    """The background writer writes every 50 ms here and the replay's last step takes
    300 ms: its model call is on the tape before its root ends, which waits in the queue
    when the replay returns. Replaying it at once writes the queue first (no flush)."""
    monkeypatch.setenv("TRACETAPE_FLUSH_INTERVAL", "0.05")
    tape = tracetape.open(tmp_path / "tape.duckdb")
    try:
        app = slow_chain(0.3)
        app.invoke({"question": "Capital of France?"}, config={"callbacks": [tape.langchain()]})
        tape.flush()
        replay = tape.replay(str(tape.traces().trace_id[0]), app=app)

        again = tape.replay(replay.trace_id, app=app)

        assert again.output == replay.output and again.same_output
    finally:
        tape.close()


def test_the_tape_is_told_when_a_replay_ends_also_when_it_raises():
    ended: list[bool] = []
    source = Source(
        query=None, flush=None, recordings=None, ended=lambda: ended.append(True),  # type: ignore[arg-type]
        recorder=None, langchain=lambda: None,  # type: ignore[arg-type]
    )  # fmt: skip
    with published(source):
        pass
    with pytest.raises(KeyError), published(source):
        raise KeyError("the app failed")
    assert ended == [True, True]
