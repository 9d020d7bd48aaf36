"""LlamaIndex capture: dispatcher spans and events -> tracetape spans.

`instrument_llamaindex` registers one span handler and one event handler on LlamaIndex's
root instrumentation dispatcher; `uninstrument_llamaindex` removes them. ``llama_index``
itself is imported only when instrumenting.

Example:
    >>> from tracetape.capture.llamaindex import instrument_llamaindex
    >>> instrument_llamaindex(tape.recorder)
    >>> index.as_query_engine().query("How long do cats sleep?")  # recorded
"""

from __future__ import annotations

from tracetape.capture.llamaindex.install import (
    LlamaIndexRecorder,
    handlers,
    instrument_llamaindex,
    is_instrumented,
    uninstrument_llamaindex,
)

__all__ = [
    "LlamaIndexRecorder",
    "handlers",
    "instrument_llamaindex",
    "is_instrumented",
    "uninstrument_llamaindex",
]
