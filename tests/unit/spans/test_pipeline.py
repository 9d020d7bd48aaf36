"""DurableBatchProcessor in front of the real tape exporter: spill, retry, never drop."""

from __future__ import annotations

import gc
import shutil
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from tracetape.spans.content import ContentStore
from tracetape.spans.pipeline import DurableBatchProcessor, build_provider
from tracetape.store import access, spool
from tracetape.store.exporter import TapeSpanExporter

ENVIRONMENT = {"environment_id": "env-0123456789abcdef", "python": {"version": "3"}}


@pytest.fixture
def exporter(tmp_path: Path) -> TapeSpanExporter:
    path = tmp_path / "tape.duckdb"
    access.create_or_upgrade(path, timeout=5.0)
    return TapeSpanExporter(path, ENVIRONMENT)


def _pipeline(
    exporter: TapeSpanExporter, *, max_queue: int, batch_size: int, interval: float = 60.0
) -> tuple[DurableBatchProcessor, TracerProvider]:
    processor = DurableBatchProcessor(
        exporter, max_queue=max_queue, batch_size=batch_size, interval=interval
    )
    return processor, build_provider([processor], {})


@pytest.fixture
def stopped() -> Iterator[list[DurableBatchProcessor]]:
    processors: list[DurableBatchProcessor] = []
    yield processors
    for processor in processors:
        processor.shutdown()


def _end_spans(provider: TracerProvider, n: int) -> None:
    tracer = provider.get_tracer("test")
    for i in range(n):
        tracer.start_span(f"s{i}", attributes={"i": i}).end()


def _rows(exporter: TapeSpanExporter) -> list[str]:
    with access.reading(exporter.path, timeout=5.0) as con:
        return [row[0] for row in con.execute("SELECT name FROM spans").fetchall()]


def test_a_full_queue_is_written_by_the_ending_thread(
    exporter: TapeSpanExporter, stopped: list[DurableBatchProcessor]
) -> None:
    processor, provider = _pipeline(exporter, max_queue=16, batch_size=8)
    stopped.append(processor)

    _end_spans(provider, 100)

    assert processor.spilled > 0
    assert processor.pending() < 16
    assert processor.written + processor.pending() == 100
    assert processor.force_flush()
    assert sorted(_rows(exporter)) == sorted(f"s{i}" for i in range(100))


def test_spans_the_spool_refuses_stay_queued_until_it_accepts_them(
    exporter: TapeSpanExporter, stopped: list[DurableBatchProcessor]
) -> None:
    processor, provider = _pipeline(exporter, max_queue=16, batch_size=8)
    stopped.append(processor)
    spans_dir = exporter.spool / "spans"
    shutil.rmtree(spans_dir)
    spans_dir.write_text("a file where the spool folder should be")

    _end_spans(provider, 50)

    assert not processor.force_flush()
    assert processor.pending() == 50
    assert processor.written == 0
    assert isinstance(processor.last_error, OSError)

    spans_dir.unlink()
    spool.ensure(exporter.spool)

    assert processor.force_flush()
    assert processor.written == 50
    assert len(_rows(exporter)) == 50


class _InterruptedOnce(TapeSpanExporter):
    """The real exporter; its first write is interrupted as if by Ctrl-C."""

    interrupted = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return super().export(spans)


def test_a_write_interrupted_by_ctrl_c_keeps_its_batch(
    tmp_path: Path, stopped: list[DurableBatchProcessor]
) -> None:
    path = tmp_path / "tape.duckdb"
    access.create_or_upgrade(path, timeout=5.0)
    exporter = _InterruptedOnce(path, ENVIRONMENT)
    processor, provider = _pipeline(exporter, max_queue=16, batch_size=8)
    stopped.append(processor)

    with pytest.raises(KeyboardInterrupt):
        _end_spans(provider, 16)

    assert processor.pending() == 16
    assert processor.force_flush()
    assert len(_rows(exporter)) == 16


def test_the_queue_drains_and_lets_go_of_written_spans(
    exporter: TapeSpanExporter, stopped: list[DurableBatchProcessor]
) -> None:
    processor, provider = _pipeline(exporter, max_queue=64, batch_size=32, interval=0.01)
    stopped.append(processor)
    tracer = provider.get_tracer("test")
    span = tracer.start_span("watched")
    span.end()
    watched = weakref.ref(span)
    del span
    _end_spans(provider, 1000)

    assert processor.force_flush()
    gc.collect()

    assert processor.pending() == 0
    assert watched() is None
    assert processor.written == 1001


def test_the_content_store_remembers_a_bounded_number_of_hashes() -> None:
    store = ContentStore(max_bytes=1024, max_remembered=100)
    hashes: list[str] = []
    for i in range(1000):
        pending: dict[str, str] = {}
        digest = store.put(f"payload {i}", pending)
        assert digest is not None
        assert pending == {digest: f"payload {i}"}
        store.mark_sent([digest])
        hashes.append(digest)

    assert len(store) == 100
    again: dict[str, str] = {}
    assert store.put("payload 999", again) == hashes[-1]
    assert again == {}  # recent payloads are not sent twice
    assert store.put("payload 0", again) == hashes[0]
    assert again == {hashes[0]: "payload 0"}  # forgotten ones are sent once more
    assert store.put("x" * 2000, again) is None  # over the size cap
