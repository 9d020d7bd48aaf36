"""The tracer provider of one tape and the batch processor in front of its exporter.

`DurableBatchProcessor` never makes the agent wait on storage and never drops a span:
ended spans go into a bounded in-memory queue drained by a background thread; when the
queue is full, the thread that ended the span writes the queue to disk itself (the
exporter's spool), so a burst costs that thread a file write, not a lost span. A batch
the exporter could not write stays queued and is retried; `force_flush` reports it.

Processes end in many ways, and each one writes what is queued first: `atexit` (a
script that returns, ``sys.exit``, an uncaught ``KeyboardInterrupt``), multiprocessing's
own exit hook in a forked worker (which leaves through ``os._exit``, skipping atexit),
and a forked child starts with an empty queue (its parent writes what it had queued).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY  # pyright: ignore[reportPrivateUsage]
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tracetape._safety import boundary, report
from tracetape.spans import semconv

logger = logging.getLogger("tracetape")

_processors: weakref.WeakSet[DurableBatchProcessor] = weakref.WeakSet()

_FORK_WAIT = 10.0
"""Seconds a fork waits for an export in flight, so the child never inherits a held lock."""

_MAX_RETRY_DELAY = 5.0


class DurableBatchProcessor(SpanProcessor):
    """Batch ended spans to ``exporter`` on a background thread, spilling, never dropping.

    Args:
        exporter: writes a batch durably (the tape's spool) and says whether it did.
        max_queue: spans held in memory before the ending thread writes them itself.
        batch_size: spans per export call.
        interval: seconds between background exports.

    Example:
        >>> processor = DurableBatchProcessor(exporter, max_queue=8192, batch_size=2048,
        ...                                   interval=0.5)
        >>> provider.add_span_processor(processor)
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
        _register_multiprocessing_exit(self)

    def _init_state(self) -> None:
        self._queue: deque[ReadableSpan] = deque()
        self._lock = threading.Lock()
        # One export at a time: a flush that finds the queue empty knows no batch is
        # still on its way to disk.
        self._export_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._retry_at = 0.0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="tracetape-writer", daemon=True)
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
            # While the disk refuses writes, retry on the background schedule instead of
            # making every ending span pay for a failing write.
            if time.monotonic() >= self._retry_at:
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

    def _peek(self, n: int) -> list[ReadableSpan]:
        with self._lock:
            return list(islice(self._queue, n))

    def _remove(self, n: int) -> None:
        # One C-level rebuild, no Python loop: a KeyboardInterrupt cannot land halfway.
        with self._lock:
            self._queue = deque(islice(self._queue, n, None))
            self.written += n

    def _drain(self, limit: int | None) -> None:
        # A batch leaves the queue only once it is written, so a failed write, or a
        # KeyboardInterrupt or SystemExit at any point, leaves it queued for the next
        # attempt (the exit hook's, at worst). Only the export lock's holder drains.
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with self._export_lock:
                budget = limit
                while budget is None or budget > 0:
                    batch = self._peek(self.batch_size)
                    if not batch or not self._export(batch):
                        return
                    self._remove(len(batch))
                    if budget is not None:
                        budget -= 1
        finally:
            otel_context.detach(token)

    def _export(self, batch: Sequence[ReadableSpan]) -> bool:
        try:
            result = self.exporter.export(batch)
        except Exception as exc:  # noqa: BLE001 - kept queued, counted and logged below
            result = SpanExportResult.FAILURE
            self.last_error = exc
        if result is SpanExportResult.SUCCESS:
            self._retry_at = 0.0
            return True
        self.failed_attempts += 1
        self._retry_at = time.monotonic() + min(self.interval * 4, _MAX_RETRY_DELAY)
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
            failed = self.failed_attempts > before
            backoff = min(backoff * 2, _MAX_RETRY_DELAY) if failed else self.interval
            tick = getattr(self.exporter, "tick", None)
            if callable(tick):
                with boundary("pipeline.tick"):
                    tick()

    def _after_fork(self) -> None:
        # The parent still owns (and will write) what was queued before the fork.
        self._init_state()
        reset = getattr(self.exporter, "after_fork", None)
        if callable(reset):
            reset()

    def _flush_at_exit(self) -> None:
        if self._pid != os.getpid() or not self.pending():
            return
        if not self.force_flush():
            logger.warning(
                "tracetape: %d spans could not be written at exit (%s)",
                self.pending(),
                self.last_error,
            )


def _before_fork() -> None:
    # Hold every export lock across fork() so no child inherits one mid-write.
    held: list[threading.Lock] = []
    for processor in list(_processors):
        lock = processor._export_lock  # pyright: ignore[reportPrivateUsage]
        if lock.acquire(timeout=_FORK_WAIT):
            held.append(lock)
    _held_over_fork[:] = held


def _after_fork_in_parent() -> None:
    for lock in _held_over_fork:
        lock.release()
    _held_over_fork.clear()


def _after_fork_in_child() -> None:
    _held_over_fork.clear()
    for processor in list(_processors):
        processor._after_fork()  # pyright: ignore[reportPrivateUsage]


_held_over_fork: list[threading.Lock] = []

if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def flush_all_at_exit() -> None:
    """Write what every processor of this process still holds (tapes nobody closed)."""
    for processor in list(_processors):
        try:
            processor._flush_at_exit()  # pyright: ignore[reportPrivateUsage]
        except Exception as exc:  # noqa: BLE001 - never fail the interpreter's exit
            report("pipeline.flush_at_exit", exc)


atexit.register(flush_all_at_exit)


def _register_multiprocessing_exit(processor: DurableBatchProcessor) -> None:
    """In a multiprocessing worker (which ends with ``os._exit``), flush on its exit hook."""
    import multiprocessing.util as mp_util

    def arm(target: DurableBatchProcessor) -> None:
        # Runs in the child after multiprocessing cleared the finalizers it inherited.
        ref = weakref.ref(target)

        def flush() -> None:
            alive = ref()
            if alive is not None:
                alive._flush_at_exit()  # pyright: ignore[reportPrivateUsage]

        mp_util.Finalize(None, flush, exitpriority=100)

    mp_util.register_after_fork(processor, arm)


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
