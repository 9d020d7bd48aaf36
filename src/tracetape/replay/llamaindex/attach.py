"""Which handlers record a LlamaIndex replay, attached and detached safely across threads.

A replay is recorded by the tape's LlamaIndex handlers: those the user attached
(``tracetape.instrument(tape)`` or ``tape.llamaindex().attach()``), else a pair attached
while any replay of that tape runs. Concurrent replays (a batch of them in a thread
pool) share that pair and the last one out detaches it; each detaching its own would
stop recording the others mid-run. LlamaIndex's root dispatcher keeps its handlers in a
plain list that detaching replaces, so every attach and detach here holds one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from tracetape.spans.recorder import Recorder

_lock = threading.Lock()
_shared: dict[int, list[Any]] = {}
"""id(recorder) -> [the pair attached for its replays, how many replays use it]."""


def _attached_by_user(recorder: Recorder) -> bool:
    from tracetape.capture.llamaindex._compat import root_dispatcher
    from tracetape.capture.llamaindex.span_handler import TracetapeSpanHandler

    return any(
        isinstance(handler, TracetapeSpanHandler) and handler.recorder is recorder
        for handler in root_dispatcher().span_handlers
    )


@contextmanager
def recorded(recorder: Recorder, mark: Any) -> Generator[None]:
    """Record the block's LlamaIndex spans into ``recorder``'s tape, ``mark`` (the
    replay's root marker, a span handler with ``attach``/``detach``) attached too."""
    from tracetape.capture.llamaindex import handlers

    key = id(recorder)
    with _lock:
        shared = _shared.get(key)
        if shared is not None:
            shared[1] += 1
        elif not _attached_by_user(recorder):
            pair = handlers(recorder)
            pair.attach()
            shared = _shared[key] = [pair, 1]
        mark.attach()
    try:
        yield
    finally:
        with _lock:
            mark.detach()
            if shared is not None:
                shared[1] -= 1
                if shared[1] == 0:
                    del _shared[key]
                    shared[0].detach()
