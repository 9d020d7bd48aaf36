"""The checkpoint a replay resumes from is taken among those the recorded run saved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

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
        root_output=None,
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
    config = checkpoints._fork(HISTORY, recording(0, 3), 2, {"callbacks": []})  # pyright: ignore[reportPrivateUsage]
    assert config == {"callbacks": [], "configurable": {"thread_id": "t", "checkpoint_id": "c2"}}
    second = checkpoints._fork(HISTORY, recording(10, 12), 5, {})  # pyright: ignore[reportPrivateUsage]
    assert second["configurable"]["checkpoint_id"] == "c11"


def test_a_missing_thread_or_step_is_a_clear_error():
    with pytest.raises(CheckpointNotFoundError, match=r"holds no thread 't'.*InMemorySaver"):
        checkpoints._fork([], recording(0, 3), 2, {})  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(CheckpointNotFoundError, match="the recorded run has steps 0 to 2"):
        checkpoints._fork(HISTORY, recording(0, 3), 3, {})  # pyright: ignore[reportPrivateUsage]


def test_a_whole_replay_starts_from_the_state_its_run_started_from():
    second = checkpoints._start(HISTORY, recording(10, 12), {})  # pyright: ignore[reportPrivateUsage]
    assert second["configurable"] == {"thread_id": "t", "checkpoint_id": "c3"}
    first = checkpoints._start(HISTORY, recording(0, 3), {})  # pyright: ignore[reportPrivateUsage]
    assert first["configurable"]["thread_id"].startswith("tracetape-replay-")
    assert "checkpoint_id" not in first["configurable"]
    gone = checkpoints._start([], recording(10, 12), {})  # pyright: ignore[reportPrivateUsage]
    assert gone["configurable"]["thread_id"].startswith("tracetape-replay-")


def test_calls_before_the_step_are_dropped():
    kept = checkpoints.calls_from(recording(0, 3, [1, 2, 2, 3, None]), 2)
    assert [c.step for c in kept.calls] == [2, 2, 3, None]
    assert [c.position for c in kept.calls] == [1, 2, 3, 4]
