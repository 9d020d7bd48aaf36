"""Which pipeline run is open here, and the span processor that stamps its id on spans.

A run (``tape.run(...)``) sets `current_run` for the code inside it; context variables
follow asyncio tasks and LangChain/LangGraph's executor threads (they copy the context).
`RunStampProcessor` puts ``tracetape.run.id`` on every span that starts, whatever
records it (LangChain callbacks, ``tracetape.span()``, LlamaIndex), choosing:

1. the run of the context the span starts in;
2. else the run of its parent span (a span started on an explicit parent elsewhere);
3. else, in a plain ``threading.Thread`` (which does not inherit context variables),
   the innermost open run of this process, but only while the open runs form one
   chain of nested runs: with two unrelated runs open at once there is no telling
   which one a context-less thread works for, so its spans get none.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from tracetape._safety import attempt
from tracetape.spans import semconv


@dataclass(frozen=True)
class RunContext:
    """An open run as the code inside it sees it."""

    run_id: str
    parent_run_id: str | None


current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "tracetape_run", default=None
)

_open_lock = threading.Lock()
_open: dict[str, RunContext] = {}


def new_run_id() -> str:
    """A fresh run id: ``run-`` + 32 hex characters (a random UUID).

    Example:
        >>> new_run_id()[:4]
        'run-'
    """
    return "run-" + uuid.uuid4().hex


def opened(run: RunContext) -> None:
    """Register ``run`` as open in this process (for context-less threads)."""
    with _open_lock:
        _open[run.run_id] = run


def closed(run_id: str) -> None:
    """Forget an open run."""
    with _open_lock:
        _open.pop(run_id, None)


def _innermost_of_one_chain() -> str | None:
    with _open_lock:
        runs = list(_open.values())
    if not runs:
        return None
    parents = {run.parent_run_id for run in runs}
    leaves = [run for run in runs if run.run_id not in parents]
    roots = [run for run in runs if run.parent_run_id not in _open]
    # One chain: exactly one run without an open parent and one without an open child.
    if len(leaves) != 1 or len(roots) != 1:
        return None
    return leaves[0].run_id


def run_id_for(parent_context: otel_context.Context | None) -> str | None:
    """The run a span starting now under ``parent_context`` belongs to (see the module)."""
    run = current_run.get()
    if run is not None:
        return run.run_id
    parent = trace.get_current_span(parent_context)
    attributes = getattr(parent, "attributes", None)
    if attributes is not None:
        inherited = attributes.get(semconv.RUN_ID)
        if isinstance(inherited, str):
            return inherited
    if parent_context is None or not parent.get_span_context().is_valid:
        return _innermost_of_one_chain()
    return None


def _stamp(span: Span, parent_context: otel_context.Context | None) -> None:
    run_id = run_id_for(parent_context)
    if run_id is not None:
        span.set_attribute(semconv.RUN_ID, run_id)


class RunStampProcessor(SpanProcessor):
    """Sets ``tracetape.run.id`` on each span as it starts (a no-op outside runs).

    Example:
        >>> provider.add_span_processor(RunStampProcessor())
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        # `attempt`, not the `boundary` context manager: this runs for every span.
        attempt("run.stamp", lambda: _stamp(span, parent_context), None)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
