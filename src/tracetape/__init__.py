"""tracetape: a flight recorder for GenAI agents.

Example:
    >>> import tracetape
    >>> tape = tracetape.open()
    >>> graph.invoke(inputs, config={"callbacks": [tape.langchain()]})
    >>> tape.flush()
    >>> tape.traces()
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracetape.capture.manual import span
from tracetape.errors import (
    DiffError,
    FlushError,
    IntegrationMissingError,
    NotFoundError,
    SchemaVersionError,
    TapeCorruptError,
    TapeError,
    TapeLockedError,
    TracetapeError,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from tracetape.diff.result import Diff
    from tracetape.inspect.span import SpanNode
    from tracetape.inspect.trace import Trace
    from tracetape.lineage.result import Lineage
    from tracetape.replay.recording import NotReplayableError
    from tracetape.replay.result import Replay, ReplayDivergence, Rerun
    from tracetape.runs.run import Run
    from tracetape.store.artifacts import Artifact
    from tracetape.tape import Tape

__all__ = [
    "Artifact",
    "Diff",
    "DiffError",
    "FlushError",
    "IntegrationMissingError",
    "Lineage",
    "NotFoundError",
    "NotReplayableError",
    "Replay",
    "ReplayDivergence",
    "Rerun",
    "Run",
    "SchemaVersionError",
    "SpanNode",
    "Tape",
    "TapeCorruptError",
    "TapeError",
    "TapeLockedError",
    "Trace",
    "TracetapeError",
    "instrument",
    "open",
    "span",
    "uninstrument",
]

_instrumented: list[Any] = []


def open(
    path: str | Path | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    otlp: bool | None = None,
    capture_content: bool | None = None,
) -> Tape:
    """Open (creating if needed) the tape at ``path``.

    Args:
        path: the DuckDB file; default ``$TRACETAPE_PATH`` or ``./.tracetape/tape.duckdb``.
        tracer_provider: record through the user's own provider instead of a private one.
        otlp: also export over OTLP/HTTP (``OTEL_EXPORTER_OTLP_*`` variables).
        capture_content: False records metadata and metrics but no message content.

    Example:
        >>> tape = tracetape.open("runs/tape.duckdb")
    """
    from tracetape.tape import open_tape

    return open_tape(
        path, tracer_provider=tracer_provider, otlp=otlp, capture_content=capture_content
    )


def instrument(tape: Tape | None = None) -> Tape:
    """Record every LangChain / LangGraph run, and every raw OpenAI SDK chat and
    embeddings call, in this process into ``tape``.

    Idempotent; `uninstrument` undoes it. Returns the tape (opened by default).

    Example:
        >>> tape = tracetape.instrument()
        >>> graph.invoke(inputs)          # recorded, no callback passed
    """
    from tracetape.capture.manual import set_default_recorder

    target = tape if tape is not None else open()
    set_default_recorder(target.recorder)
    try:
        from tracetape.capture.langchain._inject import instrument_langchain
    except ImportError:
        pass
    else:
        instrument_langchain(target.langchain())
    from tracetape.capture.openai import instrument_openai

    instrument_openai(target.recorder)  # raw OpenAI SDK calls (inside nodes, say)
    if importlib.util.find_spec("llama_index.core") is not None:
        from tracetape.capture.llamaindex import instrument_llamaindex

        instrument_llamaindex(target.llamaindex())
    _instrumented[:] = [target]
    return target


def uninstrument() -> None:
    """Stop recording runs that were not given ``tape.langchain()`` explicitly."""
    from tracetape.capture.openai import uninstrument_openai

    uninstrument_openai()
    try:
        from tracetape.capture.langchain._inject import uninstrument_langchain
    except ImportError:
        pass
    else:
        uninstrument_langchain()
    if "llama_index.core" in sys.modules:
        from tracetape.capture.llamaindex import uninstrument_llamaindex

        uninstrument_llamaindex()
    _instrumented.clear()


# Loaded on first use, so `import tracetape` stays cheap (no DuckDB, pandas or framework).
_LAZY: dict[str, str] = {
    "Artifact": "tracetape.store.artifacts",
    "Diff": "tracetape.diff.result",
    "Lineage": "tracetape.lineage.result",
    "NotReplayableError": "tracetape.replay.recording",
    "Replay": "tracetape.replay.result",
    "ReplayDivergence": "tracetape.replay.result",
    "Rerun": "tracetape.replay.result",
    "Run": "tracetape.runs.run",
    "SpanNode": "tracetape.inspect.span",
    "Tape": "tracetape.tape",
    "Trace": "tracetape.inspect.trace",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracetape' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
