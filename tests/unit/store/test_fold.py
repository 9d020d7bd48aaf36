"""Folding the spool into DuckDB: views see unfolded spans, never count one twice."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

import tracetape
from tracetape.errors import SchemaVersionError
from tracetape.store import access, fold, spool
from tracetape.store.schema.tables import SCHEMA_VERSION
from tracetape.tape import Tape


def _spool(tape: Tape, n: int, prefix: str = "s") -> None:
    """Record ``n`` spans and write them to the spool, without folding."""
    for i in range(n):
        with tracetape.span(f"{prefix}{i}", attributes={"i": i}):
            pass
    assert tape._processor.force_flush()  # pyright: ignore[reportPrivateUsage]


def _counts(tape: Tape) -> tuple[int, int]:
    row = tape.sql("SELECT count(*) AS n, count(DISTINCT span_id) AS d FROM spans")
    return int(row.n[0]), int(row.d[0])


def _folded_rows(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM _spans").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_views_show_spooled_spans_before_the_fold_and_once_after(tape: Tape) -> None:
    _spool(tape, 5)
    assert _folded_rows(tape.path) == 0
    assert spool.segments(spool.spool_dir(tape.path), "spans")

    assert _counts(tape) == (5, 5)
    assert tape.sql("SELECT n_spans FROM traces").n_spans.sum() == 5

    tape._exporter.fold(timeout=5.0)  # pyright: ignore[reportPrivateUsage]

    assert _folded_rows(tape.path) == 5
    assert not spool.segments(spool.spool_dir(tape.path), "spans")
    assert _counts(tape) == (5, 5)
    assert tape.sql("SELECT n_spans FROM traces").n_spans.sum() == 5


def test_a_segment_left_behind_after_its_fold_is_neither_counted_nor_folded_again(
    tape: Tape, tmp_path: Path
) -> None:
    # A crash between the fold's commit and its file removal leaves the segment behind.
    _spool(tape, 3)
    tape.close()
    spans_dir = spool.spool_dir(tape.path) / "spans"
    tape2 = tracetape.open(tape.path)
    _spool(tape2, 2, prefix="t")
    segment = spool.segments(spool.spool_dir(tape.path), "spans")[0]
    kept = tmp_path / "kept.parquet"
    shutil.copy(segment, kept)
    tape2._exporter.fold(timeout=5.0)  # pyright: ignore[reportPrivateUsage]
    shutil.copy(kept, spans_dir / segment.name)

    assert _counts(tape2) == (5, 5)
    tape2._exporter.fold(timeout=5.0)  # pyright: ignore[reportPrivateUsage]

    assert _folded_rows(tape.path) == 5
    assert not (spans_dir / segment.name).exists()
    tape2.close()


def test_times_are_utc_timestamptz_to_the_microsecond(tape: Tape) -> None:
    # Explicit start and end times: the test checks storage, not the clock.
    start_at = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    start_ns = int(start_at.timestamp()) * 1_000_000_000 + start_at.microsecond * 1000
    span = tape.recorder.tracer.start_span("timed", start_time=start_ns)
    span.end(end_time=start_ns + 2_500_000)
    tape._processor.force_flush()  # pyright: ignore[reportPrivateUsage]

    for _ in range(2):  # from the spool, then from the folded table
        row = tape.sql(
            "SELECT typeof(start_time) AS t, start_time, end_time, duration_ms FROM spans"
        )
        assert row.t[0] == "TIMESTAMP WITH TIME ZONE"
        start = row.start_time[0].to_pydatetime()
        end = row.end_time[0].to_pydatetime()
        assert start.utcoffset() == dt.timedelta(0)
        assert start == start_at
        assert end == start_at + dt.timedelta(microseconds=2500)
        assert row.duration_ms[0] == 2.5
        tape._exporter.fold(timeout=5.0)  # pyright: ignore[reportPrivateUsage]
    assert tape.sql("SELECT typeof(start_time) AS t FROM traces").t[0] == (
        "TIMESTAMP WITH TIME ZONE"
    )


def test_an_unreadable_segment_is_quarantined_and_the_rest_folded(
    tape: Tape, caplog: pytest.LogCaptureFixture
) -> None:
    _spool(tape, 4)
    spool_dir = spool.spool_dir(tape.path)
    bad = spool_dir / "spans" / "00000000000000000001-1-000000.parquet"
    good = spool.segments(spool_dir, "spans")[-1]
    bad.write_bytes(good.read_bytes()[:100])  # a file that lost its end

    with caplog.at_level("WARNING", logger="tracetape"):
        assert tape._exporter.fold(timeout=5.0) == 0  # pyright: ignore[reportPrivateUsage]
    assert "unreadable" in caplog.text
    assert (spool_dir / fold.QUARANTINE / "spans" / bad.name).exists()

    assert tape._exporter.fold(timeout=5.0) == 4  # pyright: ignore[reportPrivateUsage]
    assert _counts(tape) == (4, 4)


def test_stale_temporary_files_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    spool_dir = tmp_path / "tape.spool"
    spool.ensure(spool_dir)
    stale = spool_dir / "spans" / ".x.parquet.999999.tmp"
    fresh = spool_dir / "spans" / ".y.parquet.999998.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))

    fold.remove_stale_temporaries(spool_dir)

    assert not stale.exists()
    assert fresh.exists()


def test_the_schema_is_checked_again_when_the_file_changed_since_this_process_wrote_it(
    tape: Tape,
) -> None:
    _spool(tape, 1)
    tape._exporter.fold(timeout=5.0)  # pyright: ignore[reportPrivateUsage]
    _spool(tape, 1, prefix="unchanged")
    assert tape._exporter.fold(timeout=5.0) == 1  # pyright: ignore[reportPrivateUsage]
    # Another process (a newer tracetape) upgrades the file meanwhile.
    access.release_reader(tape.path)
    con = duckdb.connect(str(tape.path))
    con.execute("UPDATE _meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    _spool(tape, 1, prefix="after")
    with pytest.raises(SchemaVersionError):
        tape._exporter.fold(timeout=5.0)  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(SchemaVersionError):  # a fresh reader of this process too
        tape.sql("SELECT count(*) FROM spans")
    con = duckdb.connect(str(tape.path))
    con.execute("UPDATE _meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
    con.close()
    assert tape._exporter.fold(timeout=5.0) == 1  # pyright: ignore[reportPrivateUsage]
