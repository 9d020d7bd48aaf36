"""One replay: read the recording, re-run the app under a `Player`, record it linked.

The re-run is recorded by a handler of its own (same tape, same content store) whose
root spans carry ``tracetape.replay_of``; it does not touch the tape's shared handler,
so other runs recording at the same time are not marked as replays.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util import types

from tracetape.errors import NotFoundError
from tracetape.replay import _compat
from tracetape.replay.player import OnDivergence, Player
from tracetape.replay.recording import Query, Recording, read
from tracetape.replay.result import Replay, ReplayDivergence
from tracetape.spans import semconv
from tracetape.spans.recorder import Recorder


class _TraceIdTracer(Tracer):
    """A tracer that notes the trace id of the first span it starts (the replay's)."""

    def __init__(self, inner: Tracer) -> None:
        self._inner = inner
        self.trace_id: str | None = None

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Any = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        span = self._inner.start_span(
            name, context, kind, attributes, links, start_time, record_exception,
            set_status_on_exception,
        )  # fmt: skip
        if self.trace_id is None:
            self.trace_id = format(span.get_span_context().trace_id, "032x")
        return span

    @contextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Generator[Span]:  # pyright: ignore[reportIncompatibleMethodOverride]
        with self._inner.start_as_current_span(*args, **kwargs) as span:
            yield span


@dataclass(frozen=True)
class Source:
    """What a replay needs from its tape (given by `Tape`, the composition root)."""

    query: Query
    flush: Callable[[], object]
    recorder: Recorder
    handler_type: Callable[[Recorder], Any]


def _recording(source: Source, trace_id: str) -> Recording:
    try:
        return read(source.query, trace_id)
    except NotFoundError:
        source.flush()  # it may have ended a moment ago and still wait in the queue
        return read(source.query, trace_id)


@contextmanager
def _session(
    source: Source, trace_id: str, live: Sequence[str], on_divergence: OnDivergence
) -> Generator[tuple[Recording, Player, Any, _TraceIdTracer]]:
    recording = _recording(source, trace_id.strip().lower())
    player = Player(recording, live, on_divergence)
    _compat.install()
    tracer = _TraceIdTracer(source.recorder.tracer)
    recorder = Recorder(
        tracer=tracer,
        content=source.recorder.content,
        settings=source.recorder.settings,
        extra={**source.recorder.extra, semconv.REPLAY_OF: recording.trace_id},
    )
    handler = source.handler_type(recorder)
    token = _compat.active.set(player)
    try:
        yield recording, player, {"callbacks": [handler]}, tracer
    finally:
        _compat.active.reset(token)


def _finish(player: Player, recording: Recording, tracer: _TraceIdTracer, output: Any) -> Replay:
    result = Replay(output, tracer.trace_id, recording.trace_id, player.divergences)
    try:
        player.finish()
    except ReplayDivergence as exc:
        exc.replay = result
        raise
    return result


@contextmanager
def _stopping(player: Player, recording: Recording, tracer: _TraceIdTracer) -> Generator[None]:
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
