"""One replay: read the recording, re-run the app under a `Player`, record it linked.

The re-run is recorded by the tape's own handler; a `RootMark` marks its root span with
``tracetape.replay_of``. Its spans are written in the background, as a traced run's
are, and the tape writes them before its next read, so the new trace is there for the
user's next question at once without the replay waiting on the disk. With
``from_step`` a LangGraph graph resumes from the recorded run's checkpoint at that step
instead (see `checkpoints`).

What a divergence does:

- a call that asks something the recording did not: ``on_divergence="stop"`` raises
  `ReplayDivergence` there; ``"live"`` lets the model and retrievers run for real from
  there on (a tool not named in ``live`` never does: it stops the replay either way);
- recorded calls the re-run never made, found when it ends: with the model pinned
  (``"llm"`` not in ``live``) every answer came from the tape, so a shorter path means
  the app changed, and ``"stop"`` raises (the complete `Replay` on the exception); with
  the model live the re-run was meant to find its own path, so they are only listed on
  `Replay.divergences`, as they are under ``"live"``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracetape.replay import _compat, checkpoints, ending, requests, typed_values
from tracetape.replay.keys import Encoder
from tracetape.replay.player import OnDivergence, Player
from tracetape.replay.recording import NotReplayableError, Query, Recording
from tracetape.replay.result import Replay
from tracetape.spans import semconv, typed
from tracetape.spans.redact import REDACTED

if TYPE_CHECKING:
    from tracetape.replay.mark import RootMark
    from tracetape.replay.recordings import Recordings
    from tracetape.spans.recorder import Recorder

logger = logging.getLogger("tracetape")


@dataclass(frozen=True)
class Source:
    """What a replay needs from its tape (given by `Tape`, the composition root)."""

    query: Query
    flush: Callable[[], object]
    """Writes what this process still holds queued to the spool."""
    recordings: Recordings
    ended: Callable[[], object]
    """Called when a replay or re-run ends: the tape writes its spans before its next read."""
    recorder: Recorder
    langchain: Callable[[], Any]
    """Gives the tape's LangChain handler (the one ``tracetape.instrument`` installs too,
    so a re-run is recorded once); called only for LangChain apps, so a LlamaIndex-only
    install replays without langchain-core."""

    @property
    def handler(self) -> Any:
        """The tape's LangChain handler."""
        return self.langchain()


@contextmanager
def published(source: Source) -> Generator[None]:
    """Tell the tape when the block ends, returning or raising, that a replay or re-run
    recorded spans its next read must see (see the module docstring)."""
    try:
        yield
    finally:
        source.ended()


def _no_steps(app: Any, from_step: int | None) -> None:
    """LlamaIndex apps keep no LangGraph checkpoints to resume from."""
    if from_step is not None:
        raise NotReplayableError(
            f"from_step resumes a LangGraph graph at a recorded checkpoint; a LlamaIndex "
            f"{type(app).__name__} keeps none: replay its whole trace, without from_step"
        )


def _codec(source: Source) -> Any:
    """The tape handler's message encoder when it keeps content (cached per message)."""
    codec = getattr(source.handler, "codec", None)
    return codec if getattr(codec, "capture_content", False) else None


def _encoder(source: Source) -> Encoder | None:
    """Messages' stored forms and hashes, from the tape handler's codec (cached)."""
    codec = _codec(source)
    if codec is None:
        return None

    def encode(message: Any) -> tuple[str, str]:
        encoded = codec.encode(message)
        return encoded.payload, encoded.digest

    def digests(messages: list[Any]) -> tuple[str, ...] | None:
        found = codec.encode_list(messages)
        return found.digests() if found is not None else None

    return Encoder(encode, digests)


def _warn_if_redacted(recording: Recording) -> None:
    redacted = recording.redacted_input()
    if redacted:
        logger.warning(
            "tracetape: the recorded input of trace %s had a secret redacted at %s: the "
            "re-run is given %s in its place, so what depends on it may diverge",
            recording.trace_id,
            ", ".join(redacted[:5]),
            REDACTED,
        )


@contextmanager
def _session(
    source: Source,
    trace_id: str,
    live: Sequence[str],
    on_divergence: OnDivergence,
    from_step: int | None = None,
) -> Generator[tuple[Recording, Player, Any, RootMark]]:
    recording = source.recordings.get(trace_id)
    if from_step is not None:
        recording = checkpoints.calls_from(recording, from_step)
    else:
        _warn_if_redacted(recording)
    player = Player(recording, live, on_divergence, _encoder(source), source.recorder)
    player.check_kept()
    from tracetape.replay.mark import RootMark  # LangChain's callbacks: LangChain apps only

    _compat.install()
    mark = RootMark({semconv.REPLAY_OF: recording.trace_id})
    token = _compat.active.set(player)
    try:
        yield recording, player, {"callbacks": [source.handler, mark]}, mark
    finally:
        _compat.active.reset(token)


_INTERRUPTS = "__interrupt__"


def _same_output(source: Source, recording: Recording, output: Any) -> bool | None:
    """Whether ``output`` equals the recorded one, both in their stored form compared as
    `requests.comparable` says (None when either cannot be compared)."""
    codec = _codec(source)
    digest = recording.root_output_digest
    if codec is None or digest is None or digest not in recording.blobs:
        return None
    from tracetape.capture.langchain.io import replay_payload

    if isinstance(output, Mapping) and _INTERRUPTS in output:
        # LangGraph adds the pending interrupts (each with a fresh id) to what invoke
        # returns; the graph run's output, which capture records, never holds them.
        output = {k: v for k, v in output.items() if k != _INTERRUPTS}  # pyright: ignore[reportUnknownVariableType]
    known = recording.memo.get("output")
    if known is None:  # derived from the recording alone: kept with it
        text = recording.blobs[digest]
        recorded = recording.payload(digest)
        # A tape recorded before typed values were kept stored a tuple as a list, a
        # model as its repr: the output is encoded as that tape would have kept it.
        keep = typed.TYPE in text and typed_values.holds_typed(recorded)
        known = recording.memo["output"] = (keep, requests.comparable(recorded))
    keep, had = known
    try:
        now = json.loads(replay_payload(output, codec, keep=keep))
    except (TypeError, ValueError):
        return None
    return requests.comparable(now) == had


def _finish(
    source: Source, player: Player, recording: Recording, mark: RootMark, output: Any
) -> Replay:
    ended = ending.result(player, recording, mark, output)
    ended.same_output = _same_output(source, recording, output)
    return ending.finish(player, ended)


def replay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
    from_step: int | None = None,
) -> Replay:
    """Re-run ``app`` on the recorded input of ``trace_id`` (or from its checkpoint at
    ``from_step``), answered from the recording; see the module docstring for what a
    divergence does. The tape's reads see the new trace once this returns or raises.
    """
    from tracetape.replay import llamaindex  # LlamaIndex apps replay there (lazy import)

    if llamaindex.handles(app):
        _no_steps(app, from_step)
        with published(source):
            return llamaindex.replay(source, trace_id, app, live, on_divergence)
    with published(source), _session(source, trace_id, live, on_divergence, from_step) as session:
        recording, player, config, mark = session
        inputs = recording.root_input
        if from_step is not None:
            inputs, config = None, checkpoints.fork(app, recording, from_step, config)
        else:
            config = checkpoints.start(app, recording, config)
        with ending.stopping(player, recording, mark):
            output = app.invoke(inputs, config=config)
        return _finish(source, player, recording, mark, output)


async def areplay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
    from_step: int | None = None,
) -> Replay:
    """`replay` for apps run with ``ainvoke`` (async graphs and runnables)."""
    from tracetape.replay import llamaindex  # LlamaIndex apps replay there (lazy import)

    if llamaindex.handles(app):
        _no_steps(app, from_step)
        with published(source):
            return await llamaindex.areplay(source, trace_id, app, live, on_divergence)
    with published(source), _session(source, trace_id, live, on_divergence, from_step) as session:
        recording, player, config, mark = session
        inputs = recording.root_input
        if from_step is not None:
            inputs, config = None, await checkpoints.afork(app, recording, from_step, config)
        else:
            config = await checkpoints.astart(app, recording, config)
        with ending.stopping(player, recording, mark):
            output = await app.ainvoke(inputs, config=config)
        return _finish(source, player, recording, mark, output)
