"""The tracer provider of one tape and the batch processor in front of its exporter.

`DurableBatchProcessor` never makes the agent wait on storage and never drops a span:
ended spans go into a bounded in-memory queue drained by a background thread; when the
queue is full, the thread that ended the span writes the queue to disk itself (the
exporter's spool), so a burst costs that thread a file write, not a lost span. A batch
the exporter could not write stays queued and is retried; `force_flush` reports it.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY  # pyright: ignore[reportPrivateUsage]
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tracetape.spans import semconv

logger = logging.getLogger("tracetape")

_processors: weakref.WeakSet[DurableBatchProcessor] = weakref.WeakSet()


class DurableBatchProcessor(SpanProcessor):
    """Batch ended spans to ``exporter`` on a background thread, spilling, never dropping.

    Args:
        exporter: writes a batch durably (the tape's spool) and says whether it did.
        max_queue: spans held in memory before the ending thread writes them itself.
        batch_size: spans per export call.
        interval: seconds between background exports.
    """

    def __init__(
        self, exporter: SpanExporter, *, max_queue: int, batch_size: int, interval: float
    ) -> None:
        self.exporter = exporter
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.interval = interval
        self.written = 0
        self.failed_attempts = 0
        self.spilled = 0
        self.last_error: BaseException | None = None
        self._init_state()
        _processors.add(self)

    def _init_state(self) -> None:
        self._queue: deque[ReadableSpan] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._run, name="tracetape-writer", daemon=True
        )
        self._thread.start()

    # -- SpanProcessor ----------------------------------------------------------------
    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if os.getpid() != self._pid:
            self._after_fork()
        with self._lock:
            self._queue.append(span)
            size = len(self._queue)
        if size >= self.max_queue:
            self.spilled += 1
            self._drain(limit=None)
        elif size >= self.batch_size:
            self._wake.set()

    def shutdown(self) -> None:
        self.force_flush()
        self._stopped = True
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Write everything queued now, from this thread. True if nothing is left."""
        if os.getpid() != self._pid:
            self._after_fork()
        self._drain(limit=None)
        with self._lock:
            return not self._queue

    # -- internals --------------------------------------------------------------------
    def pending(self) -> int:
        """Spans ended but not yet written."""
        with self._lock:
            return len(self._queue)

    def _take(self, n: int) -> list[ReadableSpan]:
        with self._lock:
            count = min(n, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _give_back(self, batch: Sequence[ReadableSpan]) -> None:
        with self._lock:
            self._queue.extendleft(reversed(batch))

    def _drain(self, limit: int | None) -> None:
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            budget = limit
            while budget is None or budget > 0:
                batch = self._take(self.batch_size)
                if not batch:
                    return
                if not self._export(batch):
                    self._give_back(batch)
                    return
                if budget is not None:
                    budget -= 1
        finally:
            otel_context.detach(token)

    def _export(self, batch: Sequence[ReadableSpan]) -> bool:
        try:
            result = self.exporter.export(batch)
        except Exception as exc:
            result = SpanExportResult.FAILURE
            self.last_error = exc
        if result is SpanExportResult.SUCCESS:
            with self._lock:
                self.written += len(batch)
            return True
        self.failed_attempts += 1
        if self.failed_attempts in (1, 10, 100) or self.failed_attempts % 1000 == 0:
            logger.warning(
                "tracetape: could not write %d spans (attempt %d, %s); they stay queued "
                "and are retried, none is dropped",
                len(batch),
                self.failed_attempts,
                self.last_error,
            )
        return False

    def _run(self) -> None:
        backoff = self.interval
        while not self._stopped:
            self._wake.wait(backoff)
            self._wake.clear()
            if self._stopped or os.getpid() != self._pid:
                return
            before = self.failed_attempts
            self._drain(limit=None)
            backoff = min(backoff * 2, 5.0) if self.failed_attempts > before else self.interval
            tick = getattr(self.exporter, "tick", None)
            if callable(tick):
                try:
                    tick()
                except Exception as exc:
                    self.last_error = exc

    def _after_fork(self) -> None:
        # The parent still owns (and will write) what was queued before the fork.
        self._init_state()
        reset = getattr(self.exporter, "after_fork", None)
        if callable(reset):
            reset()


def _reinit_after_fork() -> None:
    for processor in list(_processors):
        processor._after_fork()  # pyright: ignore[reportPrivateUsage]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)


def build_provider(
    processors: Sequence[SpanProcessor], resource_attributes: dict[str, Any]
) -> TracerProvider:
    """A private TracerProvider (never the global one) feeding ``processors``."""
    resource = Resource.create({"service.name": "tracetape", **resource_attributes})
    provider = TracerProvider(
        resource=resource,
        sampler=ALWAYS_ON,
        span_limits=SpanLimits(
            max_span_attributes=1024,
            max_attribute_length=None,
            max_events=1024,
            max_event_attributes=128,
            max_links=128,
        ),
        shutdown_on_exit=False,
    )
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def environment_resource(environment_id: str) -> dict[str, Any]:
    """Resource attributes that tie every span of this provider to its environment."""
    return {semconv.ENVIRONMENT_ID: environment_id, "process.pid": os.getpid()}
