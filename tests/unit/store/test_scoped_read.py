"""A read scoped to traces or payloads leaves out spool segments holding none of them,
and sees exactly what an unscoped read sees."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from langchain_core.runnables import RunnableLambda

import tracetape
from tracetape.store import access, segment_keys, spool
from tracetape.store.access import Scope
from tracetape.store.segment_keys import SegmentKeys
from tracetape.tape import Tape

_SPANS = "SELECT span_id, name, kind, attributes FROM spans WHERE trace_id = ? ORDER BY span_id"
_BLOBS = "SELECT hash, content FROM blobs WHERE list_contains(?, hash) ORDER BY hash"


def _chain(tape: Tape, text: str) -> str:
    """Record one LangChain run (its root keeps payloads); its trace id."""

    def upper(s: str) -> str:
        return s.upper()

    def bang(s: str) -> str:
        return s + "!"

    (RunnableLambda(upper, name="shout") | RunnableLambda(bang, name="bang")).invoke(
        text, config={"callbacks": [tape.langchain()]}
    )
    tape._spool()  # pyright: ignore[reportPrivateUsage] - to the spool, not folded
    rows = tape.sql("SELECT trace_id FROM spans WHERE name = 'shout' ORDER BY start_time")
    return str(rows.trace_id.iloc[-1])


def _hashes(tape: Tape, trace_id: str) -> list[str]:
    rows = tape.sql(
        "SELECT DISTINCT unnest(regexp_extract_all(attributes::VARCHAR, '[0-9a-f]{64}')) AS h "
        "FROM spans WHERE trace_id = ?",
        [trace_id],
    )
    return sorted(str(h) for h in rows.h)


def _read(tape: Tape, sql: str, params: list[object], scope: Scope | None) -> pa.Table:
    return tape._tape_reader.arrow(sql, params, scope=scope)  # pyright: ignore[reportPrivateUsage]


@pytest.fixture
def mixed(tape: Tape) -> tuple[Tape, list[str]]:
    """A tape with one trace folded and two still in the spool."""
    folded = _chain(tape, "folded")
    tape.flush()
    spooled = [_chain(tape, "first"), _chain(tape, "second")]
    assert len(spool.segments(spool.spool_dir(tape.path), "spans")) >= 2
    return tape, [folded, *spooled]


def test_a_scoped_read_sees_what_an_unscoped_read_sees(mixed: tuple[Tape, list[str]]) -> None:
    tape, traces = mixed
    for trace_id in traces:
        spans = _read(tape, _SPANS, [trace_id], Scope(traces=frozenset([trace_id])))
        assert spans.num_rows == 3  # the sequence and its two steps
        assert spans == _read(tape, _SPANS, [trace_id], None)
        hashes = _hashes(tape, trace_id)
        assert hashes
        blobs = _read(tape, _BLOBS, [hashes], Scope(blobs=frozenset(hashes)))
        assert blobs.num_rows == len(hashes)
        assert blobs == _read(tape, _BLOBS, [hashes], None)


def test_segments_holding_none_of_the_scope_are_left_out(mixed: tuple[Tape, list[str]]) -> None:
    tape, (folded, first, _) = mixed
    segments = spool.segments(spool.spool_dir(tape.path).resolve(), "spans")

    _read(tape, _SPANS, [folded], Scope(traces=frozenset([folded])))
    statement = access._readers.readers[tape.path.resolve()].bound["spans"]  # pyright: ignore[reportPrivateUsage]
    assert "read_parquet" not in statement  # the table alone: nothing of it is spooled

    _read(tape, _SPANS, [first], Scope(traces=frozenset([first])))
    statement = access._readers.readers[tape.path.resolve()].bound["spans"]  # pyright: ignore[reportPrivateUsage]
    named = [s for s in segments if s.name in statement]
    assert len(named) == 1  # the segment holding it, not the other trace's

    _read(tape, _SPANS, [first], None)
    statement = access._readers.readers[tape.path.resolve()].bound["spans"]  # pyright: ignore[reportPrivateUsage]
    assert all(s.name in statement for s in segments)  # unscoped: every segment again


def test_segments_another_process_wrote_are_read_for_their_keys(
    mixed: tuple[Tape, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tape, traces = mixed
    unknowing = SegmentKeys()  # as in a process that wrote none of the segments
    monkeypatch.setattr(segment_keys, "KEYS", unknowing)
    for trace_id in traces:
        spans = _read(tape, _SPANS, [trace_id], Scope(traces=frozenset([trace_id])))
        assert spans == _read(tape, _SPANS, [trace_id], None)
    folder = spool.spool_dir(tape.path).resolve() / "spans"
    assert set(unknowing._keys[folder]) == {  # pyright: ignore[reportPrivateUsage]
        s.name for s in spool.segments(folder.parent, "spans")
    }


def test_a_deleted_trace_stays_hidden_from_a_scoped_read(mixed: tuple[Tape, list[str]]) -> None:
    tape, (_, first, second) = mixed
    tape.delete(trace_ids=[first])
    assert _read(tape, _SPANS, [first], Scope(traces=frozenset([first]))).num_rows == 0
    assert _read(tape, _SPANS, [second], Scope(traces=frozenset([second]))).num_rows == 3


def test_a_segment_whose_keys_cannot_be_read_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "tape.spool" / "spans"
    folder.mkdir(parents=True)
    broken = folder / "00000000000000000001-1-000001.parquet"
    broken.write_bytes(b"not parquet")
    assert SegmentKeys().holding(folder, [broken], {"any"}) == [broken]


def test_keys_of_folded_segments_are_forgotten(tape: Tape) -> None:
    with tracetape.span("one"):
        pass
    tape._spool()  # pyright: ignore[reportPrivateUsage]
    folder = spool.spool_dir(tape.path).resolve() / "spans"
    keys = segment_keys.KEYS
    segments = spool.segments(folder.parent, "spans")
    assert keys.holding(folder, segments, {"no such trace"}) == []
    assert {s.name for s in segments} <= set(keys._keys[folder])  # pyright: ignore[reportPrivateUsage]

    tape.flush()  # folds: what the fold removed is forgotten at once
    assert not set(keys._keys[folder]) & {s.name for s in segments}  # pyright: ignore[reportPrivateUsage]


def test_segments_folded_elsewhere_are_forgotten_by_the_next_scoped_read(tmp_path: Path) -> None:
    folder = (tmp_path / "tape.spool" / "spans").resolve()
    folder.mkdir(parents=True)
    table = pa.table({"trace_id": ["a" * 32]})
    keys = SegmentKeys()
    gone = folder / "00000000000000000001-1-000001.parquet"
    kept = folder / "00000000000000000002-1-000002.parquet"
    for segment in (gone, kept):
        keys.note(segment, table)
    assert keys.holding(folder, [kept], {"a" * 32}) == [kept]  # `gone` is no longer listed
    assert set(keys._keys[folder]) == {kept.name}  # pyright: ignore[reportPrivateUsage]


def test_the_keys_remembered_per_folder_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segment_keys, "MAX_KNOWN", 3)
    folder = (tmp_path / "blobs").resolve()
    keys = SegmentKeys()
    for n in range(5):
        keys.note(folder / f"{n:020d}-1-000001.parquet", pa.table({"hash": [f"h{n}"]}))
    remembered = keys._keys[folder]  # pyright: ignore[reportPrivateUsage]
    assert sorted(remembered) == [f"{n:020d}-1-000001.parquet" for n in (2, 3, 4)]


def test_segments_folded_by_another_process_are_forgotten_as_new_ones_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(segment_keys, "_PRUNE_AT", 3)
    folder = (tmp_path / "spans").resolve()
    folder.mkdir()
    keys = SegmentKeys()
    for n in range(6):
        segment = folder / f"{n:020d}-1-000001.parquet"
        segment.touch()
        keys.note(segment, pa.table({"trace_id": [f"{n:032x}"]}))
        if n < 4:
            segment.unlink()  # folded elsewhere
    assert set(keys._keys[folder]) == {f"{n:020d}-1-000001.parquet" for n in (4, 5)}  # pyright: ignore[reportPrivateUsage]
