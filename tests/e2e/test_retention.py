"""Retention: ``tape.delete`` and ``tracetape prune`` remove traces and what only they use."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.tools import tool
from opentelemetry import trace as otel_trace

import tracetape
from tracetape.cli.main import main
from tracetape.inspect.reader import TapeReader
from tracetape.store import access, fold, spool
from tracetape.tape import Tape

SECRET = "patient Jane Roe, 12 Elm St"
KEPT = "weather in Lisbon"


@tool
def lookup(text: str) -> str:
    """Look a text up."""
    return f"found: {text}"


def _tool_trace(tape: Tape, text: str) -> str:
    """One trace: a tool call whose input and output are kept as payload blobs."""
    with tracetape.span("ask"):
        trace_id = f"{otel_trace.get_current_span().get_span_context().trace_id:032x}"
        lookup.invoke({"text": text}, config={"callbacks": [tape.langchain()]})
    return trace_id


def _tape_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _count(tape: Tape, sql: str) -> int:
    return int(tape.sql(sql).iloc[0, 0])


def test_delete_removes_a_trace_its_scores_and_payloads_and_leaves_no_bytes(
    tape: Tape, tmp_path: Path
) -> None:
    secret = _tool_trace(tape, SECRET)
    kept = _tool_trace(tape, KEPT)
    tape.flush()
    tape.score(secret, "helpful", False, comment=f"wrong about {SECRET}")
    span_id = tape.sql("SELECT span_id FROM spans WHERE trace_id = ? AND kind = 'tool'", [secret])
    tape.score(str(span_id.span_id[0]), "relevance", 0.0)
    tape.score(kept, "helpful", True)
    blobs_before = _count(tape, "SELECT count(*) FROM blobs")
    assert SECRET.encode() in _tape_bytes(tmp_path)

    deleted = tape.delete(secret)

    assert (deleted.traces, deleted.spans, deleted.scores) == (1, 2, 2)
    assert deleted.blobs >= 2  # the tool's input and output, used by no other span
    assert deleted.environments == 0  # the kept trace still runs in it
    assert tape.sql("SELECT trace_id FROM traces").trace_id.tolist() == [kept]
    assert tape.sql("SELECT trace_id FROM scores").trace_id.tolist() == [kept]
    assert _count(tape, "SELECT count(*) FROM blobs") == blobs_before - deleted.blobs
    assert _count(tape, "SELECT count(*) FROM environments") == 1
    tape.close()
    everything = _tape_bytes(tmp_path)
    assert SECRET.encode() not in everything
    assert KEPT.encode() in everything  # the same check finds what was kept
    reopened = tracetape.open(tape.path)  # the rewritten file is a whole tape
    assert reopened.sql("SELECT trace_id FROM traces").trace_id.tolist() == [kept]
    reopened.close()


def test_delete_folds_spans_still_in_the_spool_first(tmp_path: Path, holder: Path) -> None:
    tape = tracetape.open(holder)  # the file is held: everything stays in the spool
    secret = _tool_trace(tape, SECRET)
    tape.flush()
    assert spool.segments(spool.spool_dir(holder), "spans")
    _release(holder)

    deleted = tape.delete([secret])

    assert deleted.traces == 1 and deleted.spans == 2
    assert _count(tape, "SELECT count(*) FROM spans") == 0
    tape.close()
    assert SECRET.encode() not in _tape_bytes(tmp_path)


def test_a_segment_written_before_the_delete_cannot_bring_rows_back(tape: Tape) -> None:
    secret = _tool_trace(tape, SECRET)
    tape.flush()
    with access.writing(tape.path, 5.0) as con:
        assert con is not None
        late_spans = con.sql("SELECT * FROM _spans").to_arrow_table()
        late_blobs = con.sql("SELECT * FROM _blobs").to_arrow_table()

    tape.delete(secret)
    # Another process spooled these before the delete; they reach the folder after it.
    spool_path = spool.spool_dir(tape.path)
    spool.write_segment(spool_path, "spans", late_spans)
    old_blobs = spool.write_segment(spool_path, "blobs", late_blobs)
    os.replace(old_blobs, old_blobs.with_name("00000000000000000001-1-000001.parquet"))

    assert _count(tape, "SELECT count(*) FROM spans") == 0
    assert _count(tape, "SELECT count(*) FROM blobs") == 0
    with access.writing(tape.path, 5.0) as con:
        assert con is not None
        fold.fold_into(con, spool_path.resolve())
        rows = con.execute("SELECT (SELECT count(*) FROM _spans), (SELECT count(*) FROM _blobs)")
        assert rows.fetchall() == [(0, 0)]
    assert _count(tape, "SELECT count(*) FROM traces") == 0


def test_older_than_deletes_only_traces_that_ended_before(tape: Tape) -> None:
    old = _tool_trace(tape, SECRET)
    tape.flush()
    cutoff = dt.datetime.now(dt.UTC)
    new = _tool_trace(tape, KEPT)
    tape.flush()

    dry = tape.delete(older_than=cutoff, dry_run=True)
    assert dry.dry_run and dry.traces == 1
    assert _count(tape, "SELECT count(*) FROM traces") == 2

    deleted = tape.delete(older_than=cutoff)

    assert deleted.traces == 1 and not deleted.dry_run
    assert tape.sql("SELECT trace_id FROM traces").trace_id.tolist() == [new]
    assert old != new
    assert tape.delete(older_than=dt.timedelta(days=30)).traces == 0


def test_the_recording_process_keeps_its_own_environment(tape: Tape) -> None:
    only = _tool_trace(tape, SECRET)
    tape.flush()

    assert tape.delete(only).environments == 0

    later = _tool_trace(tape, KEPT)
    tape.flush()
    joined = tape.sql(
        "SELECT count(*) AS n FROM spans JOIN environments USING (environment_id) "
        "WHERE trace_id = ?",
        [later],
    )
    assert joined.n.tolist() == [2]


def test_delete_refuses_unknown_ids_and_missing_arguments(tape: Tape) -> None:
    kept = _tool_trace(tape, KEPT)
    tape.flush()

    with pytest.raises(tracetape.NotFoundError, match="nothing was deleted"):
        tape.delete([kept, "f" * 32])
    with pytest.raises(ValueError, match="say what to delete"):
        tape.delete()
    with pytest.raises(ValueError, match="timezone"):
        tape.delete(older_than=dt.datetime(2020, 1, 1))
    assert tape.sql("SELECT trace_id FROM traces").trace_id.tolist() == [kept]


def test_prune_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    _tool_trace(tape, SECRET)
    tape.close()

    assert main(["prune", "--older-than", "0s", "--dry-run", "--path", str(path)]) == 0
    assert "would delete" in capsys.readouterr().out
    assert main(["--path", str(path), "prune", "--older-than", "0s"]) == 0
    out = capsys.readouterr().out
    assert "deleted" in out and "would" not in out
    assert SECRET.encode() not in _tape_bytes(tmp_path)
    # Nothing refers to the environment any more: it went too.
    left = TapeReader(path, 5.0).sql("SELECT (SELECT count(*) FROM environments) AS n")
    assert left.n.tolist() == [0]

    assert main(["--path", str(path), "prune", "--trace", "a" * 32]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no trace")
    assert main(["--path", str(tmp_path / "none.duckdb"), "prune", "--older-than", "1d"]) == 2
    assert "no tape at" in capsys.readouterr().err
    assert main(["--path", str(path), "prune"]) == 2
    assert "--older-than" in capsys.readouterr().err


def test_prune_says_so_when_the_tape_is_held_past_the_timeout(
    holder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACETAPE_LOCK_TIMEOUT", "0.2")

    assert main(["--path", str(holder), "prune", "--older-than", "1d"]) == 2

    err = capsys.readouterr().err
    assert "held by another process" in err and len(err.strip().splitlines()) == 1


_holders: dict[Path, subprocess.Popen[str]] = {}


def _release(path: Path) -> None:
    process = _holders.pop(path)
    process.communicate("", timeout=30)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Path]:
    """A tape whose DuckDB file another process holds read-write (until `_release`)."""
    path = tmp_path / "tape.duckdb"
    tracetape.open(path).close()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read(); c.close()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    _holders[path] = process
    yield path
    if path in _holders:
        _release(path)
