"""A streamed answer read after its query returned, recorded inside the query's trace.

A streaming query engine returns a ``StreamingResponse`` at once; LlamaIndex starts the
model call only when the answer is first read, after every span of the query has
closed. So the root span of such a query stays open: its ``response_gen`` is relayed,
and while each token is read the query is LlamaIndex's active span again (its
``active_span_id``), so the model call nests under it. The root ends when the stream
does: read to its end, closed or failed while read, or collected unread. A stream
still unread when the interpreter exits ends its root as incomplete, before the tape's
own exit hooks write what is queued (see `_end_open_at_exit`).
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse

from tracetape._safety import attempt
from tracetape.capture.llamaindex import _compat
from tracetape.capture.llamaindex.runs import Run, RunTable
from tracetape.spans import semconv
from tracetape.spans.encode import to_jsonable
from tracetape.spans.recorder import current_capture_span


@dataclass
class _Read:
    """What was read of one stream (shared by the relay and its end; never the relay)."""

    table: RunTable
    span_id: str
    run: Run
    source_ids: list[Any]
    tokens: list[Any] = field(default_factory=list[Any])
    error: BaseException | None = None
    ended: Callable[[], Any] | None = None
    """Ends the span once (a finalizer of the relay, so also when it is collected)."""
    at_exit: bool = False
    """Ended by the interpreter's exit, the stream not read to its end."""

    def end(self) -> None:
        if self.ended is not None:
            self.ended()

    def close_span(self) -> None:
        attempt("llamaindex.stream.end", self._close_span, None)

    def _close_span(self) -> None:
        _open.pop(id(self), None)
        table = self.table
        run = table.runs.get(self.span_id)
        if run is None:
            return
        recorder = table.recorder
        if recorder.settings.capture_content:
            text = "".join(str(t) for t in self.tokens)
            attrs: dict[str, Any] = {}
            output = {"response": text, "source_nodes": to_jsonable(self.source_ids)}
            recorder.display(semconv.OUTPUT, output, attrs)
            run.span.set_attributes(attrs)
        if self.error is not None:
            table.fail(run, self.error)
        if self.at_exit:
            run.span.set_attribute(semconv.INCOMPLETE, True)
        # A model stream under it that was left unread never sends its end event.
        for sid, other in list(table.runs.items()):
            if other.root == self.span_id and other.awaiting_end and table.runs.pop(sid, None):
                other.span.set_attribute(semconv.INCOMPLETE, True)
                table.finish(other, ok=False, restore=False)
        table.end(self.span_id, ok=self.error is None and not self.at_exit, restore=False)


_open: dict[int, _Read] = {}
"""The streams whose root span is still open, by ``id`` of their `_Read`."""
_hook_lock = threading.Lock()
_hooked = False


def _end_open_at_exit() -> None:
    """End the root span of every stream still open, marked incomplete.

    Registered when the first stream is kept open, so after the tape's exit hooks
    (registered as ``tracetape`` is imported, before any tape records): atexit runs
    hooks last in, first out, so the roots end before their spans are written.
    """
    for read in list(_open.values()):
        read.at_exit = True
        read.end()


def _hook_exit() -> None:
    global _hooked
    with _hook_lock:
        if not _hooked:
            atexit.register(_end_open_at_exit)
            _hooked = True


def keep_open(table: RunTable, span_id: str, run: Run, result: Any) -> bool:
    """Relay a streamed query answer's tokens and keep the root span open until they
    end; False when ``result`` is no ``StreamingResponse``."""
    # (Only these: a chat response's response_gen is a property, made anew each time.)
    stream: Any = getattr(result, "response_gen", None)
    nodes = getattr(result, "source_nodes", None) or []
    ids = [getattr(getattr(n, "node", n), "node_id", None) for n in nodes]
    read = _Read(table, span_id, run, ids)
    relay: Any
    if isinstance(result, StreamingResponse) and isinstance(stream, Generator):
        relay = _relay(read, stream)  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(result, AsyncStreamingResponse) and isinstance(stream, AsyncGenerator):
        relay = _arelay(read, stream)  # pyright: ignore[reportUnknownArgumentType]
    else:
        return False
    # A stream never started runs no ``finally``: it ends when it is collected.
    ended = weakref.finalize(relay, read.close_span)
    ended.atexit = False  # ended by `_end_open_at_exit`, ahead of the tape's hooks
    read.ended = ended
    _open[id(read)] = read
    _hook_exit()
    result.response_gen = relay
    table.release(run)
    return True


def _step(read: _Read) -> tuple[Any, Any]:
    """Make the query LlamaIndex's active span (and the capture span) for one read."""
    return _compat.active_span_id().set(read.span_id), current_capture_span.set(read.run.span)


def _unstep(tokens: tuple[Any, Any]) -> None:
    # Reset within the same read: the reader's context is left as it was.
    current_capture_span.reset(tokens[1])
    _compat.active_span_id().reset(tokens[0])


def _relay(read: _Read, stream: Generator[Any]) -> Generator[Any]:
    try:
        while True:
            tokens = _step(read)
            try:
                item = next(stream)
            except StopIteration:
                return
            except Exception as exc:
                read.error = exc
                raise
            finally:
                _unstep(tokens)
            read.tokens.append(item)
            yield item
    finally:
        read.end()


async def _arelay(read: _Read, stream: AsyncGenerator[Any]) -> AsyncGenerator[Any]:
    try:
        while True:
            tokens = _step(read)
            try:
                item = await anext(stream)
            except StopAsyncIteration:
                return
            except Exception as exc:
                read.error = exc
                raise
            finally:
                _unstep(tokens)
            read.tokens.append(item)
            yield item
    finally:
        read.end()
