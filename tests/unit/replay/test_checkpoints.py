"""The checkpoint a replay resumes from is taken among those the recorded run saved, and
copied to a new thread (the recorded one is only read)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver

from tracetape.replay import CheckpointNotFoundError, checkpoints
from tracetape.replay.recording import RecordedCall, Recording

T0 = dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Snapshot:
    """The StateSnapshot fields replay reads."""

    step: int
    at: float
    next: tuple[str, ...]
    source: str = "loop"
    parent: str | None = None
    metadata: dict[str, Any] = field(init=False)
    config: dict[str, Any] = field(init=False)
    created_at: str = field(init=False)
    parent_config: dict[str, Any] | None = field(init=False)

    def __post_init__(self) -> None:
        self.metadata = {"step": self.step, "source": self.source}
        self.config = {"configurable": {"thread_id": "t", "checkpoint_id": f"c{self.at}"}}
        self.created_at = (T0 + dt.timedelta(seconds=self.at)).isoformat()
        ident = {"configurable": {"thread_id": "t", "checkpoint_id": self.parent}}
        self.parent_config = ident if self.parent else None


def recording(start: float, end: float, steps: Sequence[int | None] = ()) -> Recording:
    calls = [
        RecordedCall(f"{i:016x}", "llm", "m", i, T0, T0, {}, (), (), None, step)
        for i, step in enumerate(steps)
    ]
    return Recording(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        root_span_id="00f067aa0ba902b7",
        root_input=None,
        calls=calls,
        thread_id="t",
        start=T0 + dt.timedelta(seconds=start),
        end=T0 + dt.timedelta(seconds=end),
    )


# Two runs on one thread (newest first, as LangGraph lists them): the first at 0-3 s,
# the second at 10-12 s; and a fork of the first replayed at 20-21 s.
HISTORY = [
    Snapshot(3, 21, ()),
    Snapshot(2, 20.5, ("b",)),
    Snapshot(5, 12, ()),
    Snapshot(4, 11, ("a",)),
    Snapshot(3, 10, ("__start__",), source="input", parent="c3"),
    Snapshot(2, 3, ()),
    Snapshot(1, 2, ("b",)),
    Snapshot(0, 1, ("a",)),
    Snapshot(-1, 0.5, ("__start__",), source="input"),
]


def test_a_step_resumes_from_the_recorded_run_s_own_checkpoint():
    config = checkpoints._fork(HISTORY, recording(0, 3), 2)  # pyright: ignore[reportPrivateUsage]
    assert config == {"configurable": {"thread_id": "t", "checkpoint_id": "c2"}}
    second = checkpoints._fork(HISTORY, recording(10, 12), 5)  # pyright: ignore[reportPrivateUsage]
    assert second["configurable"]["checkpoint_id"] == "c11"


def test_a_missing_thread_or_step_is_a_clear_error():
    with pytest.raises(CheckpointNotFoundError, match=r"holds no thread 't'.*InMemorySaver"):
        checkpoints._fork([], recording(0, 3), 2)  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(CheckpointNotFoundError, match="the recorded run has steps 0 to 2"):
        checkpoints._fork(HISTORY, recording(0, 3), 3)  # pyright: ignore[reportPrivateUsage]


def test_a_whole_replay_starts_from_the_state_its_run_started_from():
    second = checkpoints._start(HISTORY, recording(10, 12))  # pyright: ignore[reportPrivateUsage]
    assert second == {"configurable": {"thread_id": "t", "checkpoint_id": "c3"}}
    assert checkpoints._start(HISTORY, recording(0, 3)) is None  # pyright: ignore[reportPrivateUsage]
    assert checkpoints._start([], recording(10, 12)) is None  # pyright: ignore[reportPrivateUsage]


def saved(saver: InMemorySaver) -> Any:
    """Thread "t" holding one checkpoint (x = 1, at step 2), with a pending write."""
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"x": 1}
    checkpoint["channel_versions"] = {"x": 1}
    config = saver.put(
        {"configurable": {"thread_id": "t", "checkpoint_ns": ""}},
        checkpoint,
        {"source": "loop", "step": 2, "parents": {}},
        {"x": 1},
    )
    saver.put_writes(config, [("x", 2)], "task")
    return config


def test_a_replay_runs_on_a_new_thread_holding_a_copy_of_the_checkpoint():
    saver = InMemorySaver()
    source = saved(saver)
    original = saver.get_tuple(source)

    thread = checkpoints._copy(saver, source, recording(0, 3))  # pyright: ignore[reportPrivateUsage]

    assert thread["configurable"]["thread_id"].startswith("tracetape-replay-")
    copied = saver.get_tuple(thread)
    assert copied is not None and original is not None
    assert copied.checkpoint["channel_values"] == {"x": 1}
    assert (copied.checkpoint["id"], copied.metadata["step"]) == (original.checkpoint["id"], 2)
    assert (copied.pending_writes, copied.parent_config) == ([], None)  # the step runs again
    # The recorded thread is only read.
    assert [t.config for t in saver.list({"configurable": {"thread_id": "t"}})] == [source]
    assert saver.get_tuple(source) == original
    fresh = checkpoints._copy(saver, None, recording(0, 3))  # pyright: ignore[reportPrivateUsage]
    assert fresh != thread and saver.get_tuple(fresh) is None


def test_an_async_copy_and_a_checkpoint_that_is_gone():
    saver = InMemorySaver()
    source = saved(saver)
    thread = asyncio.run(checkpoints._acopy(saver, source, recording(0, 3)))  # pyright: ignore[reportPrivateUsage]
    copied = saver.get_tuple(thread)
    assert copied is not None and copied.checkpoint["channel_values"] == {"x": 1}
    gone = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "nope"}}
    with pytest.raises(CheckpointNotFoundError, match="no longer holds checkpoint 'nope'"):
        checkpoints._copy(saver, gone, recording(0, 3))  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(CheckpointNotFoundError, match="of thread 't'"):
        asyncio.run(checkpoints._acopy(saver, gone, recording(0, 3)))  # pyright: ignore[reportPrivateUsage]


def test_the_replay_config_names_only_the_new_thread():
    given: dict[str, Any] = {
        "callbacks": [],
        "configurable": {"thread_id": "t", "checkpoint_id": "c2", "k": 1},
    }
    new = {"configurable": {"thread_id": "tracetape-replay-1", "checkpoint_ns": ""}}
    on = checkpoints._on(given, new)  # pyright: ignore[reportPrivateUsage]
    assert on == {"callbacks": [], "configurable": {"k": 1, "thread_id": "tracetape-replay-1"}}
    assert given["configurable"]["thread_id"] == "t"


def test_calls_before_the_step_are_dropped():
    kept = checkpoints.calls_from(recording(0, 3, [1, 2, 2, 3, None]), 2)
    assert [c.step for c in kept.calls] == [2, 2, 3, None]
    assert [c.position for c in kept.calls] == [1, 2, 3, 4]
