"""Registering and removing tracetape's handlers on LlamaIndex's root dispatcher."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tracetape.capture.llamaindex import _compat
from tracetape.capture.llamaindex.events import TracetapeEventHandler
from tracetape.capture.llamaindex.runs import RunTable
from tracetape.capture.llamaindex.span_handler import TracetapeSpanHandler
from tracetape.spans.recorder import Recorder

_lock = threading.Lock()
_installed: list[LlamaIndexRecorder] = []


@dataclass(frozen=True)
class LlamaIndexRecorder:
    """The span handler and event handler that record into one tape (one table)."""

    span_handler: TracetapeSpanHandler
    event_handler: TracetapeEventHandler

    @property
    def open_spans(self) -> int:
        """Recorded spans started and not yet ended (0 after every trace)."""
        return len(self.span_handler.table)

    def attach(self) -> None:
        """Add both handlers to the root dispatcher (once)."""
        root = _compat.root_dispatcher()
        if not any(h is self.span_handler for h in root.span_handlers):
            root.add_span_handler(self.span_handler)
        if not any(h is self.event_handler for h in root.event_handlers):
            root.add_event_handler(self.event_handler)

    def detach(self) -> None:
        """Remove both handlers from the root dispatcher."""
        root = _compat.root_dispatcher()
        root.span_handlers = [h for h in root.span_handlers if h is not self.span_handler]
        root.event_handlers = [h for h in root.event_handlers if h is not self.event_handler]


def handlers(recorder: Recorder) -> LlamaIndexRecorder:
    """A new span/event handler pair recording through ``recorder`` (not yet attached).

    Example:
        >>> pair = handlers(tape.recorder)
        >>> pair.attach()
    """
    table = RunTable(recorder)
    return LlamaIndexRecorder(TracetapeSpanHandler(table), TracetapeEventHandler(table))


def instrument_llamaindex(target: Recorder | LlamaIndexRecorder) -> bool:
    """Record every LlamaIndex span in this process, through a recorder or a handler pair.

    Pass ``tape.llamaindex()`` (the tape's own pair) or a bare `Recorder`. Idempotent: a
    second call with the same target changes nothing, one with another target replaces
    the first. Returns True once the handlers are registered.

    Example:
        >>> instrument_llamaindex(tape.llamaindex())
    """
    with _lock:
        for old in _installed:
            if old is target or old.span_handler.recorder is target:
                old.attach()
                return True
        pair = target if isinstance(target, LlamaIndexRecorder) else handlers(target)
        for old in _installed:
            old.detach()
        _installed[:] = [pair]
        pair.attach()
    return True


def uninstrument_llamaindex() -> None:
    """Remove the handlers `instrument_llamaindex` registered."""
    with _lock:
        for old in _installed:
            old.detach()
        _installed.clear()


def is_instrumented() -> bool:
    """Whether LlamaIndex spans are being recorded by `instrument_llamaindex`."""
    return bool(_installed)
