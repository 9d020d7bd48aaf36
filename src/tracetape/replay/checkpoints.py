"""Replay from a LangGraph step, or a whole run, on a new thread: never the recorded one.

A graph with a checkpointer saves a checkpoint after every step; the one whose
metadata says step ``N - 1`` holds the state step ``N`` ran on, and its ``next`` the
nodes that ran then. The thread comes from the recording (node spans record it) and the
checkpoint from the graph's own history, taken among those saved while the recorded run
ran (a thread holds every run on it).

That checkpoint is copied, as the checkpointer holds it (values, versions, metadata;
not its pending writes, so step ``N`` runs again), to a new thread
``tracetape-replay-<hex>``, and the graph resumes there: the steps before ``N`` are not
run again, the steps from ``N`` on are, with their calls answered from the recording.
The recorded thread is only read: its head and history stay as they were, so the user's
next ``invoke`` on it goes on from their own state. The replay's spans record the new
thread (``tracetape.langgraph.thread_id``), where its checkpoints can be inspected.

A whole replay of a graph with a checkpointer starts, the same way, from a copy of the
state the recorded run started from (the parent of its input checkpoint), or on a new
empty thread when the run started its thread or the checkpointer no longer holds it.

Checkpoints are matched to the recorded run by time (capture records no checkpoint ids).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from tracetape.replay.recording import NotReplayableError, Recording

# Checkpoint and span times come from the same clock, rounded apart by at most a µs.
_SLACK = dt.timedelta(milliseconds=1)


class CheckpointNotFoundError(NotReplayableError):
    """The graph's checkpointer does not hold the recorded thread, or not that step."""


def calls_from(recording: Recording, step: int) -> Recording:
    """The recording without the calls made before ``step`` (they are not re-run)."""
    kept = [c for c in recording.calls if c.step is None or c.step >= step]
    return dataclasses.replace(recording, calls=kept)


def _thread(app: Any, recording: Recording, step: int) -> dict[str, Any]:
    if step < 0:
        raise ValueError(f"from_step must be a LangGraph step number (0 or more), not {step!r}")
    if not callable(getattr(app, "get_state_history", None)):
        raise NotReplayableError(
            "from_step needs a compiled LangGraph graph with a checkpointer, not a "
            f"{type(app).__name__}"
        )
    if recording.thread_id is None:
        raise NotReplayableError(
            f"trace {recording.trace_id} recorded no LangGraph thread id: from_step needs "
            "a run of a graph with a checkpointer, invoked with a thread_id"
        )
    return {"configurable": {"thread_id": recording.thread_id}}


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _during(snapshot: Any, recording: Recording) -> bool:
    created = getattr(snapshot, "created_at", None)
    if not created or recording.start is None:
        return False
    moment = _utc(dt.datetime.fromisoformat(str(created)))
    end = recording.end or recording.start
    return _utc(recording.start) - _SLACK <= moment <= _utc(end) + _SLACK


def _step(snapshot: Any) -> int | None:
    value = (getattr(snapshot, "metadata", None) or {}).get("step")
    return value if isinstance(value, int) else None


def _fork(history: Sequence[Any], recording: Recording, step: int) -> Any:
    """The config of the checkpoint step ``step`` of the recorded run started from
    (raises if none)."""
    thread = recording.thread_id
    if not history:
        raise CheckpointNotFoundError(
            f"the graph's checkpointer holds no thread {thread!r} (recorded by trace "
            f"{recording.trace_id}): an InMemorySaver keeps threads only in the process "
            "that ran them. Replay from_step in that process, compile the graph with a "
            "persistent checkpointer (SqliteSaver, PostgresSaver), or replay the whole "
            "trace without from_step"
        )
    ours = [s for s in history if _during(s, recording)]
    before = [s for s in ours if _step(s) == step - 1 and getattr(s, "next", ())]
    if not before:
        steps = sorted({n + 1 for s in ours if (n := _step(s)) is not None and s.next})
        known = f"steps {steps[0]} to {steps[-1]}" if steps else "no checkpoints"
        raise CheckpointNotFoundError(
            f"thread {thread!r} holds no checkpoint that step {step} of trace "
            f"{recording.trace_id} started from (the recorded run has {known})"
        )
    # The oldest one: the recorded run's own (the history is newest first).
    return before[-1].config


def _start(history: Sequence[Any], recording: Recording) -> Any:
    """The config of the checkpoint the recorded run started from (the parent of its
    input checkpoint), or None when it started a thread or the thread is gone."""
    runs = [
        s
        for s in history
        if _during(s, recording) and (getattr(s, "metadata", None) or {}).get("source") == "input"
    ]
    if runs:
        return getattr(runs[-1], "parent_config", None)
    if any(_during(s, recording) for s in history):
        # A resumed run (``Command(resume=...)``) writes no input checkpoint: it went on
        # from the thread's latest checkpoint before it started (history: newest first).
        earlier = [s for s in history if _before(s, recording)]
        return getattr(earlier[0], "config", None) if earlier else None
    return None


def _resumable(source: Any, recording: Recording) -> Any:
    """``source``, unless the recorded run resumed an interrupt whose state is gone."""
    if source is None and getattr(recording.root_input, "resume", None) is not None:
        raise CheckpointNotFoundError(
            f"trace {recording.trace_id} resumed thread {recording.thread_id!r} from an "
            "interrupt (Command(resume=...)), and the graph's checkpointer does not hold "
            "that thread's state: replay it with the checkpointer the recorded run used"
        )
    return source


def _before(snapshot: Any, recording: Recording) -> bool:
    created = getattr(snapshot, "created_at", None)
    if not created or recording.start is None:
        return False
    return _utc(dt.datetime.fromisoformat(str(created))) < _utc(recording.start) - _SLACK


def _checkpointed(app: Any) -> bool:
    saver = getattr(app, "checkpointer", None)
    return saver is not None and not isinstance(saver, bool)


def _on(config: Any, thread: dict[str, Any]) -> Any:
    """``config`` run on ``thread`` (a copy: the caller's config is not changed)."""
    given = dict(config)
    own = {
        k: v
        for k, v in (given.get("configurable") or {}).items()
        if k not in ("checkpoint_id", "checkpoint_ns")
    }
    given["configurable"] = {**own, "thread_id": thread["configurable"]["thread_id"]}
    return given


def _new_thread() -> dict[str, Any]:
    return {
        "configurable": {"thread_id": f"tracetape-replay-{uuid.uuid4().hex}", "checkpoint_ns": ""}
    }


def _missing(source: Any, recording: Recording) -> CheckpointNotFoundError:
    ident = (source.get("configurable") or {}).get("checkpoint_id")
    return CheckpointNotFoundError(
        f"the graph's checkpointer no longer holds checkpoint {ident!r} of thread "
        f"{recording.thread_id!r} (recorded by trace {recording.trace_id})"
    )


def _copy(saver: Any, source: Any, recording: Recording) -> dict[str, Any]:
    """A new thread holding a copy of the checkpoint ``source`` names (a new empty
    thread when ``source`` is None). Its pending writes are not copied: the step after
    it runs again. The recorded thread is only read."""
    thread = _new_thread()
    if source is None:
        return thread
    saved = saver.get_tuple(source)
    if saved is None:
        raise _missing(source, recording)
    saver.put(thread, saved.checkpoint, saved.metadata, saved.checkpoint["channel_versions"])
    return thread


async def _acopy(saver: Any, source: Any, recording: Recording) -> dict[str, Any]:
    """`_copy` through the checkpointer's async methods."""
    thread = _new_thread()
    if source is None:
        return thread
    saved = await saver.aget_tuple(source)
    if saved is None:
        raise _missing(source, recording)
    await saver.aput(thread, saved.checkpoint, saved.metadata, saved.checkpoint["channel_versions"])
    return thread


def _recorded(recording: Recording) -> dict[str, Any]:
    return {"configurable": {"thread_id": recording.thread_id}}


def start(app: Any, recording: Recording, config: Any) -> Any:
    """The config a whole replay of ``app`` runs with: for a graph with a checkpointer,
    a new thread holding the state the recorded run started from (or none)."""
    if not _checkpointed(app):
        return config
    history: list[Any] = []
    if recording.thread_id is not None:
        history = list(app.get_state_history(_recorded(recording)))
    source = _resumable(_start(history, recording), recording)
    return _on(config, _copy(app.checkpointer, source, recording))


async def astart(app: Any, recording: Recording, config: Any) -> Any:
    """`start` through the graph's async history and checkpointer."""
    if not _checkpointed(app):
        return config
    history: list[Any] = []
    if recording.thread_id is not None:
        history = [s async for s in app.aget_state_history(_recorded(recording))]
    source = _resumable(_start(history, recording), recording)
    return _on(config, await _acopy(app.checkpointer, source, recording))


def fork(app: Any, recording: Recording, step: int, config: Any) -> Any:
    """The config that resumes ``app`` at the start of ``step`` of the recorded run: on
    a new thread holding a copy of the checkpoint that step started from."""
    thread = _thread(app, recording, step)
    try:
        history = list(app.get_state_history(thread))
    except ValueError as exc:  # LangGraph's "No checkpointer set"
        raise NotReplayableError(f"from_step needs a graph with a checkpointer: {exc}") from exc
    source = _fork(history, recording, step)
    return _on(config, _copy(app.checkpointer, source, recording))


async def afork(app: Any, recording: Recording, step: int, config: Any) -> Any:
    """`fork` through the graph's async history (async checkpointers)."""
    thread = _thread(app, recording, step)
    try:
        history = [s async for s in app.aget_state_history(thread)]
    except ValueError as exc:
        raise NotReplayableError(f"from_step needs a graph with a checkpointer: {exc}") from exc
    source = _fork(history, recording, step)
    return _on(config, await _acopy(app.checkpointer, source, recording))
