"""One replay: read the recording, re-run the app under a `Player`, record it linked.

The re-run is recorded by the tape's own handler; a small handler of ours marks its
root span with ``tracetape.replay_of`` (only that run's: other runs recording at the
same time are not touched).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from tracetape.errors import NotFoundError
from tracetape.replay import _compat
from tracetape.replay.player import OnDivergence, Player
from tracetape.replay.recording import Query, Recording, read
from tracetape.replay.result import Replay, ReplayDivergence
from tracetape.spans import semconv
from tracetape.spans.recorder import current_capture_span


class _ReplayMark(BaseCallbackHandler):
    """Marks the re-run's root span as a replay and notes its trace id.

    It runs after the tape's own handler (listed after it), which has just made the
    root run's span the innermost capture span of this context.
    """

    run_inline = True

    def __init__(self, replay_of: str) -> None:
        self.replay_of = replay_of
        self.trace_id: str | None = None

    # LangChain copies handlers; all copies are this one.
    def __copy__(self) -> _ReplayMark:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _ReplayMark:
        return self

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if parent_run_id is not None or self.trace_id is not None:
            return
        span = current_capture_span.get()
        attrs: Mapping[str, Any] = getattr(span, "attributes", None) or {}
        if span is None or attrs.get(semconv.LANGCHAIN_RUN_ID) != str(run_id):
            return
        span.set_attribute(semconv.REPLAY_OF, self.replay_of)
        self.trace_id = format(span.get_span_context().trace_id, "032x")


@dataclass(frozen=True)
class Source:
    """What a replay needs from its tape (given by `Tape`, the composition root)."""

    query: Query
    flush: Callable[[], object]
    handler: Any
    """The tape's LangChain handler: the one ``tracetape.instrument`` installs too, so a
    re-run is recorded once."""


def _recording(source: Source, trace_id: str) -> Recording:
    try:
        return read(source.query, trace_id)
    except NotFoundError:
        source.flush()  # it may have ended a moment ago and still wait in the queue
        return read(source.query, trace_id)


@contextmanager
def _session(
    source: Source, trace_id: str, live: Sequence[str], on_divergence: OnDivergence
) -> Generator[tuple[Recording, Player, Any, _ReplayMark]]:
    recording = _recording(source, trace_id.strip().lower())
    player = Player(recording, live, on_divergence)
    _compat.install()
    mark = _ReplayMark(recording.trace_id)
    token = _compat.active.set(player)
    try:
        yield recording, player, {"callbacks": [source.handler, mark]}, mark
    finally:
        _compat.active.reset(token)


def _finish(player: Player, recording: Recording, tracer: _ReplayMark, output: Any) -> Replay:
    result = Replay(output, tracer.trace_id, recording.trace_id, player.divergences)
    try:
        player.finish()
    except ReplayDivergence as exc:
        exc.replay = result
        raise
    return result


@contextmanager
def _stopping(player: Player, recording: Recording, tracer: _ReplayMark) -> Generator[None]:
    """Re-raise a divergence with the partial `Replay`, also when the app wrapped or
    swallowed it (a ToolNode turning errors into messages, a retry)."""
    try:
        yield
    except ReplayDivergence as exc:
        exc.replay = Replay(None, tracer.trace_id, recording.trace_id, player.divergences)
        raise
    except Exception as exc:
        if not player.stopped:
            raise
        partial = Replay(None, tracer.trace_id, recording.trace_id, player.divergences)
        raise ReplayDivergence(player.divergences[0], partial) from exc
    if player.stopped:
        partial = Replay(None, tracer.trace_id, recording.trace_id, player.divergences)
        raise ReplayDivergence(player.divergences[0], partial)


def replay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
) -> Replay:
    """Re-run ``app`` on the recorded input of ``trace_id``, answered from the recording."""
    with _session(source, trace_id, live, on_divergence) as (recording, player, config, tracer):
        with _stopping(player, recording, tracer):
            output = app.invoke(recording.root_input, config=config)
        return _finish(player, recording, tracer, output)


async def areplay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
) -> Replay:
    """`replay` for apps run with ``ainvoke`` (async graphs and runnables)."""
    with _session(source, trace_id, live, on_divergence) as (recording, player, config, tracer):
        with _stopping(player, recording, tracer):
            output = await app.ainvoke(recording.root_input, config=config)
        return _finish(player, recording, tracer, output)
