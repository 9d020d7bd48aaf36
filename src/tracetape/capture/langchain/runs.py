"""The open LangChain runs of one handler: run id -> span, parents, ending, release.

Parents are linked explicitly through this table, never through ambient context, so
runs in threads and asyncio tasks keep their own trees. A run that never ends (a
cancelled branch, an error path that skips its end callback) is ended, marked
incomplete, when its root ends: per-run state never outlives its trace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from tracetape._safety import attempt
from tracetape.capture.langchain._compat import (
    control_flow_kind,
    interrupt_values,
    running_body,
)
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import to_jsonable
from tracetape.spans.outcome import end_span, record_error
from tracetape.spans.recorder import Recorder, ambient_parent, current_capture_span

_MAX_OPEN_RUNS = 50_000
"""Open runs kept before the oldest is ended as incomplete (a leak guard)."""


@dataclass(slots=True)
class Run:
    """One open run: its span and what its end needs."""

    span: Span
    kind: str
    name: str
    root: UUID
    parent: UUID | None
    blobs: dict[str, str] = field(default_factory=dict)
    first_token_ns: int | None = None
    start_ns: int = 0
    previous: Span | None = None
    busy: bool = False
    """(A root run) whether a run has started inside it: a root that has not started
    any is a batch's sibling, not a parent (see `RunTable._is_root`)."""


class RunTable:
    """Open runs of one handler (thread-safe for CPython's atomic dict operations)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._runs: dict[UUID, Run] = {}
        self._hidden: dict[UUID, UUID | None] = {}
        self._roots: dict[int, UUID] = {}
        """Span id -> run id of the open root runs: peers, not parents, of a root starting
        outside their body (``batch`` starts every input's root run before any runs)."""

    def __len__(self) -> int:
        return len(self._runs)

    @property
    def hidden_count(self) -> int:
        """Hidden (LangGraph plumbing) runs not yet ended."""
        return len(self._hidden)

    def get(self, run_id: UUID | None) -> Run | None:
        """The open run ``run_id``, if any."""
        return self._runs.get(run_id) if run_id is not None else None

    def hide(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        """Record no span for ``run_id``; its children nest under its parent."""
        self._hidden[run_id] = parent_run_id

    def unhide(self, run_id: UUID) -> bool:
        """Forget a hidden run at its end; True if it was hidden."""
        return self._hidden.pop(run_id, 0) != 0

    def resolve_parent(self, parent_run_id: UUID | None) -> UUID | None:
        seen = 0
        while parent_run_id is not None and parent_run_id in self._hidden and seen < 64:
            parent_run_id = self._hidden[parent_run_id]
            seen += 1
        return parent_run_id

    def start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        metadata: Mapping[str, Any] | None,
        tags: Sequence[str] | None,
        span_kind: SpanKind = SpanKind.INTERNAL,
    ) -> Run:
        parent_id = self.resolve_parent(parent_run_id)
        parent = self._runs.get(parent_id) if parent_id is not None else None
        if parent is not None:
            root = self._runs.get(parent.root)
            if root is not None:
                root.busy = True
        if parent is not None:
            context: Context | None = trace.set_span_in_context(parent.span, Context())
        else:
            context = ambient_parent(self._is_root)
        attrs[semconv.KIND] = kind
        attrs.setdefault(semconv.OPERATION_NAME, kinds.OPERATIONS[kind])
        attrs[semconv.LANGCHAIN_RUN_ID] = str(run_id)
        attrs[semconv.LANGCHAIN_RUN_NAME] = name
        if parent is None:
            self._root_attributes(attrs, metadata, tags)
        span = self.recorder.tracer.start_span(
            name, context=context, kind=span_kind, attributes=attrs
        )
        current = current_capture_span.get()
        run = Run(
            span=span,
            kind=kind,
            name=name,
            root=parent.root if parent is not None else run_id,
            parent=parent_id if parent is not None else None,
            start_ns=time.perf_counter_ns(),
            previous=self._outside(current) if parent is None else current,
        )
        if len(self._runs) >= _MAX_OPEN_RUNS:
            self._end_oldest()
        self._runs[run_id] = run
        if parent is None:
            self._roots[span.get_span_context().span_id] = run_id
        current_capture_span.set(span)
        return run

    def _outside(self, span: Span | None) -> Span | None:
        """What was innermost before a root run started: past open sibling roots (a
        batch), so that ending them in any order leaves what was there before."""
        for _ in range(_MAX_OPEN_RUNS):
            if span is None or not self._is_root(span):
                return span
            sibling = self._runs.get(self._roots[span.get_span_context().span_id])
            span = sibling.previous if sibling is not None else None
        return None

    def _is_root(self, span: Span) -> bool:
        """Whether ``span`` is a sibling of a root starting now: an open root run that
        has started nothing yet and whose body does not run here (``batch`` starts each
        input's root before any runs). A streamed root the caller's loop body runs
        beside has started its steps, so it stays the parent of what the body records."""
        root_id = self._roots.get(span.get_span_context().span_id)
        root = self._runs.get(root_id) if root_id is not None else None
        return root is not None and not root.busy and root_id != running_body()

    def _root_attributes(
        self, attrs: dict[str, Any], metadata: Mapping[str, Any] | None, tags: Sequence[str] | None
    ) -> None:
        user_tags = [t for t in tags or () if not t.startswith(("seq:step:", "graph:step:"))]
        if user_tags:
            attrs[semconv.TAGS] = tuple(user_tags)
        user_meta = {
            k: v
            for k, v in (metadata or {}).items()
            if not k.startswith(("langgraph_", "ls_", "checkpoint_")) and k != "thread_id"
        }
        if user_meta:
            self.recorder.display(semconv.METADATA, to_jsonable(user_meta), attrs)

    def end(
        self, run_id: UUID, attrs: Callable[[Run], dict[str, Any]] | None = None, ok: bool = True
    ) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        if attrs is not None:
            extra = attempt(f"end.{run.kind}", lambda: attrs(run), {})
            if extra:
                run.span.set_attributes(extra)
        self._finish(run, ok)
        if run.parent is None:
            self._end_orphans(run_id)

    def _finish(self, run: Run, ok: bool = False) -> None:
        if run.parent is None:
            self._roots.pop(run.span.get_span_context().span_id, None)
        end_span(run.span, run.blobs, self.recorder.content, ok=ok)
        parent = self._runs.get(run.parent) if run.parent is not None else None
        # Back to what was innermost before this run: its parent, or for a root the
        # user's own span (or another framework's) that it nested under.
        current_capture_span.set(parent.span if parent is not None else run.previous)

    def _end_orphans(self, root: UUID) -> None:
        orphans = [rid for rid, r in self._runs.items() if r.root == root]
        for rid in orphans:
            run = self._runs.pop(rid)
            run.span.set_attribute("tracetape.incomplete", True)
            self._finish(run)

    def _end_oldest(self) -> None:
        oldest = next(iter(self._runs))
        run = self._runs.pop(oldest)
        run.span.set_attribute("tracetape.incomplete", True)
        self._finish(run)

    def fail(self, run_id: UUID, error: BaseException) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        flow = control_flow_kind(error)
        if flow is not None:
            run.span.set_attribute(semconv.CONTROL_FLOW, flow)
            if flow == "interrupt":
                values = attempt("interrupt", lambda: interrupt_values(error), [])
                self.recorder.display(semconv.INTERRUPT_VALUE, to_jsonable(values), attrs := {})
                run.span.set_attributes(attrs)
        else:
            record_error(run.span, error)
        self.end(run_id, ok=False)
