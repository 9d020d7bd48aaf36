"""One replay of a LlamaIndex app: read the recording, call the app's recorded entry
point (``query``, ``chat``, a workflow's ``run``) on the recorded arguments under a
`LlamaIndexPlayer`, record the re-run linked to its original.

The re-run is recorded by the LlamaIndex handlers already recording into the tape
(``tracetape.instrument(tape)`` or ``tape.llamaindex().attach()``), else by a pair
attached while replays run (see `attach`).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import threading
from collections.abc import AsyncGenerator, Coroutine, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracetape.replay import ending
from tracetape.replay.llamaindex import _compat, attach, payloads
from tracetape.replay.llamaindex.mark import ReplayMark
from tracetape.replay.llamaindex.player import LlamaIndexPlayer
from tracetape.replay.player import OnDivergence
from tracetape.replay.recording import NotReplayableError, Recording
from tracetape.replay.result import Replay
from tracetape.spans import kinds, semconv
from tracetape.spans.recorder import Recorder

if TYPE_CHECKING:
    from tracetape.replay.session import Source

_ASYNC_TWINS = {"query": "aquery", "chat": "achat", "stream_chat": "astream_chat"}
_SYNC_TWINS = {a: s for s, a in _ASYNC_TWINS.items()}
_STREAMED_CHATS = frozenset({"stream_chat", "astream_chat"})


@dataclass(frozen=True)
class Entry:
    """The recorded root call: its method name and its arguments, revived; the answer
    text it gave, when kept (a query or chat engine's)."""

    method: str
    arguments: dict[str, Any]
    answer: str | None = None


def _recorded_answer(output: Any) -> str | None:
    """The response text of a query or chat engine's recorded output, if kept whole."""
    if not isinstance(output, str):
        return None
    try:
        value = json.loads(output)
    except ValueError:
        return None
    text = value.get("response") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def _cut(truncated: Any) -> bool:
    """Whether the span's output was truncated (``tracetape.truncated`` lists it)."""
    try:
        keys = json.loads(truncated) if isinstance(truncated, str) else ()
    except ValueError:
        return True
    return isinstance(keys, list) and semconv.OUTPUT in keys


def _entry(source: Source, recording: Recording) -> Entry:
    rows = source.query(
        "SELECT name, attributes->>? AS li, output, attributes->>? AS truncated FROM spans "
        "WHERE span_id = ? AND trace_id = ?",
        [
            semconv.LLAMAINDEX_SPAN_ID,
            semconv.TRUNCATED,
            recording.root_span_id,
            recording.trace_id,
        ],
    ).to_pylist()
    if not rows or not rows[0]["li"]:
        raise NotReplayableError(
            f"trace {recording.trace_id} was not recorded from a LlamaIndex query engine, "
            "chat engine or agent"
        )
    method = str(rows[0]["name"]).rsplit(".", 1)[-1]
    refuse_unrecorded_stream(method, recording)
    answer = None if _cut(rows[0]["truncated"]) else _recorded_answer(rows[0]["output"])
    return Entry(method, payloads.arguments(recording.root_input), answer)


def refuse_unrecorded_stream(method: str, recording: Recording) -> None:
    """Refuse a streamed chat whose model call is not in its trace.

    A chat engine's ``stream_chat`` hands the answer to a writer thread of its own;
    when that thread makes the model call (a context chat engine does, as it reads the
    answer) after the chat's span ended, the call records as a trace apart, and a
    replay could not answer it: it would run live.
    """
    if method in _STREAMED_CHATS and not any(c.kind == kinds.LLM for c in recording.calls):
        raise NotReplayableError(
            f"trace {recording.trace_id} is a streamed chat whose model call was recorded "
            "as a trace of its own; record the chat with chat() to replay it"
        )


def _call(app: Any, method: str, arguments: dict[str, Any]) -> Any:
    """``app.method(**arguments)``, a ``**kwargs`` parameter's recorded dict spread."""
    target = getattr(app, method)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    parameters = inspect.signature(target).parameters
    for name, value in arguments.items():
        param = parameters.get(name)
        if param is not None and param.kind is inspect.Parameter.VAR_KEYWORD:
            kwargs.update(value or {})
        elif param is not None and param.kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(value or ())
        else:
            kwargs[name] = value
    return target(*args, **kwargs)


@contextmanager
def _session(
    source: Source, trace_id: str, live: Sequence[str], on_divergence: OnDivergence
) -> Generator[tuple[Recording, Entry, LlamaIndexPlayer, ReplayMark]]:
    recording = source.recordings.get(trace_id)
    entry = _entry(source, recording)
    recorder: Recorder = source.recorder
    player = LlamaIndexPlayer(recording, recorder, live, on_divergence)
    player.check_kept()
    _compat.install()
    mark = ReplayMark(player, recording.trace_id)
    with attach.recorded(recorder, mark):
        token = _compat.active.set(player)
        try:
            yield recording, entry, player, mark
        finally:
            _compat.active.reset(token)


def _answer(output: Any) -> str | None:
    """The response text of a query or chat engine's output (a streamed one read out)."""
    from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse

    if isinstance(output, StreamingResponse | AsyncStreamingResponse):
        text: Any = output.response_txt
    else:
        text = getattr(output, "response", None)
    return text if isinstance(text, str) else None


def _same_output(entry: Entry, output: Any) -> bool | None:
    """Whether a query or chat engine answered the recorded text (None for a workflow,
    a streamed chat, or a recording that kept no answer)."""
    if entry.answer is None or entry.method == "run" or entry.method in _STREAMED_CHATS:
        return None
    now = _answer(output)
    return None if now is None else now == entry.answer


def _finish(
    player: LlamaIndexPlayer, recording: Recording, mark: ReplayMark, entry: Entry, output: Any
) -> Replay:
    ended = ending.result(player, recording, mark, output)
    ended.same_output = _same_output(entry, output)
    return ending.finish(player, ended)


def _read_out(output: Any) -> Any:
    """A streamed query answer read to its end inside the replay (its model call is
    made as it is read), then handed back as a stream of that one text; a streamed
    chat's writer waited for."""
    from llama_index.core.base.response.schema import StreamingResponse

    if isinstance(output, StreamingResponse):
        text = output.get_response().response or ""
        output.response_gen = (t for t in (text,))
    writer = getattr(output, "write_response_to_history_thread", None)
    if isinstance(writer, threading.Thread):
        writer.join()  # a streamed chat's model call is made (answered) in its writer
    return output


async def _aread_out(output: Any) -> Any:
    """`_read_out` for an ``AsyncStreamingResponse``."""
    from llama_index.core.base.response.schema import AsyncStreamingResponse

    if isinstance(output, AsyncStreamingResponse):
        text = (await output.get_response()).response or ""

        async def tokens() -> AsyncGenerator[str]:
            yield text

        output.response_gen = tokens()
    writer = getattr(output, "awrite_response_to_history_task", None)
    if isinstance(writer, asyncio.Task):
        await writer  # a streamed chat's model call is made (answered) in its writer
    return output


async def _run(app: Any, entry: Entry) -> Any:
    """A workflow's ``run`` on its recorded start event (it starts its task at once, so
    it is called inside the loop)."""
    return await app.run(**payloads.start_kwargs(entry.arguments))


def _run_to_end(coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)``; when this thread already runs a loop (a Jupyter cell),
    on a worker thread with a loop of its own, in a copy of this context (the player)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1, thread_name_prefix="tracetape-replay") as pool:
        return pool.submit(context.run, asyncio.run, coro).result()


def replay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
) -> Replay:
    """Re-run a LlamaIndex ``app`` on the recorded input of ``trace_id``, answered from
    the recording (a workflow or agent runs to completion on a new event loop: on a thread of its
    own when this one already runs a loop, as in Jupyter)."""
    with _session(source, trace_id, live, on_divergence) as (recording, entry, player, mark):
        with ending.stopping(player, recording, mark):
            if entry.method == "run":
                output = _run_to_end(_run(app, entry))
            else:
                method = _SYNC_TWINS.get(entry.method, entry.method)
                output = _read_out(_call(app, method, entry.arguments))
        return _finish(player, recording, mark, entry, output)


async def areplay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
) -> Replay:
    """`replay` through the app's async entry point (``aquery``, ``achat``, ``run``)."""
    with _session(source, trace_id, live, on_divergence) as (recording, entry, player, mark):
        with ending.stopping(player, recording, mark):
            if entry.method == "run":
                output = await _run(app, entry)
            else:
                method = _ASYNC_TWINS.get(entry.method, entry.method)
                output = await _aread_out(await _call(app, method, entry.arguments))
        return _finish(player, recording, mark, entry, output)
