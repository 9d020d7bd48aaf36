"""The open LlamaIndex spans of one handler: dispatcher span id -> OTel span.

LlamaIndex names each span's parent explicitly (``parent_id``, from its own context
variable, which asyncio tasks and its own threads carry), so parents are linked through
this table, never through ambient OpenTelemetry context. Plumbing spans that record
nothing are *hidden*: their children nest under the nearest recorded ancestor. A root
nests under `ambient_parent` (a LangGraph node, a user span), so a query engine called
inside a LangGraph node joins that node's trace.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

from tracetape.spans import kinds, semconv
from tracetape.spans.outcome import end_span, record_error
from tracetape.spans.recorder import Recorder, ambient_parent, current_capture_span

_MAX_OPEN = 50_000
"""Open spans kept before the oldest is ended as incomplete (a leak guard)."""
_HIDDEN_DEPTH = 64


@dataclass(slots=True, eq=False)
class Run:
    """One open recorded span and what its end needs."""

    span: Span
    kind: str
    name: str
    root: str
    parent: str | None
    instance: Any = None
    blobs: dict[str, str] = field(default_factory=dict[str, str])
    previous: Span | None = None
    started: bool = False
    """An llm span has seen its start event (nested calls of one model add nothing)."""
    awaiting_end: bool = False
    """A streaming llm call returned its generator; the end event ends the span."""
    prompt: Run | None = None
    """The prompt span a predict call opened, ended when its model call starts."""
    event: Any = None
    """A workflow step's input event."""
    count: int = 0
    """Texts embedded so far by an embedding call; streamed chunks of a model call."""
    start_ns: int = field(default_factory=time.time_ns)


class RunTable:
    """Open spans of one handler (dict operations are atomic under CPython)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.runs: dict[str, Run] = {}
        self.hidden: dict[str, str | None] = {}
        # Reentrant: a collected stream ends its query span from a GC finalizer, which may
        # run on a thread already holding it (streams._Read.close_span -> end).
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.runs)

    def resolve(self, span_id: str | None) -> str | None:
        """The nearest recorded span at or above ``span_id``."""
        for _ in range(_HIDDEN_DEPTH):
            if span_id is None or span_id not in self.hidden:
                return span_id
            span_id = self.hidden[span_id]
        return span_id

    def find(self, span_id: str | None) -> Run | None:
        """The recorded run an event of ``span_id`` belongs to."""
        resolved = self.resolve(span_id)
        return self.runs.get(resolved) if resolved is not None else None

    def reading(self, instance: Any, parent: Run | None) -> str | None:
        """The streamed model call of ``instance`` in ``parent``'s trace whose stream is
        being read, if any (``CustomLLM.astream_complete`` calls ``stream_complete`` only
        then: that call is the same one)."""
        if parent is None:
            return None
        for span_id, run in list(self.runs.items()):
            if run.awaiting_end and run.instance is instance and run.root == parent.root:
                return span_id
        return None

    def hide(self, span_id: str, parent_id: str | None) -> None:
        """Record nothing for ``span_id``; its children and events go to its parent."""
        if len(self.hidden) >= _MAX_OPEN:  # a leak guard: spans that never exited
            self.hidden.pop(next(iter(self.hidden)), None)
        self.hidden[span_id] = self.resolve(parent_id)

    def start(
        self,
        span_id: str,
        parent_id: str | None,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        instance: Any = None,
    ) -> Run:
        """Open a span under the recorded parent (or the ambient one for a root)."""
        parent = self.find(parent_id)
        if parent is not None:
            context: Context | None = trace.set_span_in_context(parent.span, Context())
        else:
            context = ambient_parent()
        attrs[semconv.KIND] = kind
        attrs.setdefault(semconv.OPERATION_NAME, kinds.OPERATIONS[kind])
        attrs[semconv.LLAMAINDEX_SPAN_ID] = span_id
        span = self.recorder.tracer.start_span(name, context=context, attributes=attrs)
        run = Run(
            span=span,
            kind=kind,
            name=name,
            root=parent.root if parent is not None else span_id,
            parent=self.resolve(parent_id) if parent is not None else None,
            instance=instance,
            previous=current_capture_span.get(),
        )
        if len(self.runs) >= _MAX_OPEN:
            self._end_oldest()
        self.runs[span_id] = run
        current_capture_span.set(span)
        return run

    def release(self, run: Run) -> None:
        """The capture span of this context goes back to ``run``'s parent (or previous)."""
        parent = self.runs.get(run.parent) if run.parent is not None else None
        current_capture_span.set(parent.span if parent is not None else run.previous)

    def end(self, span_id: str, ok: bool = True, restore: bool = True) -> None:
        """End a recorded span (and, for a root, whatever under it never ended)."""
        self.hidden.pop(span_id, None)
        run = self.runs.pop(span_id, None)
        if run is None:
            return
        self.finish(run, ok, restore)
        if run.parent is None:
            with self._lock:
                # A model stream still being read ends with its own end event.
                orphans = [
                    sid
                    for sid, r in list(self.runs.items())
                    if r.root == span_id and not r.awaiting_end
                ]
                stale = [sid for sid, parent in list(self.hidden.items()) if parent == span_id]
            for sid in stale:
                self.hidden.pop(sid, None)
            for sid in orphans:
                orphan = self.runs.pop(sid, None)
                if orphan is not None:
                    orphan.span.set_attribute(semconv.INCOMPLETE, True)
                    self.finish(orphan, ok=False)

    def finish(self, run: Run, ok: bool, restore: bool = True) -> None:
        """Status, blobs and end of one span; the capture span goes back to its parent."""
        if run.prompt is not None:
            self.finish(run.prompt, ok, restore=False)
            run.prompt = None
        end_span(run.span, run.blobs, self.recorder.content, ok=ok)
        if restore:
            self.release(run)

    def fail(self, run: Run, error: BaseException) -> None:
        """Error status, type and a redacted traceback on ``run``'s span."""
        record_error(run.span, error)

    def _end_oldest(self) -> None:
        oldest = next(iter(self.runs))
        run = self.runs.pop(oldest)
        run.span.set_attribute(semconv.INCOMPLETE, True)
        self.finish(run, ok=False, restore=False)
