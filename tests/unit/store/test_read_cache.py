"""The cached read connection: reuse, idle close, writers, other processes, replaced files, fork."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import tracetape
from tracetape.errors import TapeError
from tracetape.store import access


def _record(path: Path, *names: str) -> None:
    tape = tracetape.open(path)
    for name in names:
        with tracetape.span(name):
            pass
    tape.close()


def _names(path: Path) -> list[str]:
    with access.reading(path, 5.0) as con:
        return sorted(str(row[0]) for row in con.sql("SELECT name FROM spans").fetchall())


@pytest.fixture
def path(tmp_path: Path) -> Path:
    tape_path = tmp_path / "tape.duckdb"
    _record(tape_path, "first")
    return tape_path


def test_back_to_back_reads_share_one_connection(path: Path) -> None:
    with access.reading(path, 5.0) as first:
        first.sql("SELECT count(*) FROM spans").fetchall()
    with access.reading(path, 5.0) as second:
        assert second is first
    access.release_reader(path)
    with access.reading(path, 5.0) as third:
        assert third is not first


def test_an_idle_reader_is_closed_and_the_file_is_free(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(access, "READ_IDLE_SECONDS", 0.05)
    assert _names(path) == ["first"]
    deadline = time.monotonic() + 10
    while access._readers.readers and time.monotonic() < deadline:  # pyright: ignore[reportPrivateUsage]
        time.sleep(0.02)
    # Another process can now take the file for a fold.
    held = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert held.returncode == 0, held.stderr


def test_this_process_writing_closes_its_reader_first(path: Path) -> None:
    assert _names(path) == ["first"]
    with access.writing(path, None) as con:
        assert con is not None  # not refused for our own cached read-only connection
    tape = tracetape.open(path)
    with tracetape.span("second"):
        pass
    assert tape.flush() == 1
    assert _names(path) == ["first", "second"]
    tape.close()


def test_spans_another_process_records_show_on_the_next_query(path: Path) -> None:
    assert _names(path) == ["first"]  # our reader stays open: their fold must wait
    script = (
        "import sys, tracetape\n"
        "tape = tracetape.open(sys.argv[1])\n"
        "with tracetape.span('from-elsewhere'):\n    pass\n"
        "tape.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, path], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert _names(path) == ["first", "from-elsewhere"]


def _spans_view(path: Path) -> str:
    with access.reading(path, 5.0) as con:
        sql = con.sql(
            "SELECT sql FROM duckdb_views() WHERE view_name = 'spans' AND temporary"
        ).fetchall()
    return str(sql[0][0])


def test_views_read_a_listed_snapshot_of_the_spool_not_a_glob(path: Path) -> None:
    # Nothing unfolded: the table alone (reading even an empty spool costs ~2 ms a query).
    assert "read_parquet" not in _spans_view(path)
    tape = tracetape.open(path)
    with tracetape.span("spooled"):
        pass
    tape._processor.force_flush()  # pyright: ignore[reportPrivateUsage] - spooled, not folded
    view = _spans_view(path)
    assert "*.parquet" not in view
    assert "_schema.parquet" in view and view.count(".parquet") >= 2  # each segment named
    tape.close()
    assert "read_parquet" not in _spans_view(path)  # folded at close


def _temporary_views(con: Any) -> set[str]:
    query = "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    rows = con.sql(query).fetchall()
    return {str(row[0]) for row in rows}


def test_a_query_binds_the_views_it_names_and_theirs_over_the_current_spool(
    path: Path,
) -> None:
    access.release_reader(path)
    query = "SELECT name FROM spans ORDER BY name"
    with access.reading(path, 5.0, query) as con:
        assert _temporary_views(con) == {"spans"}
        assert [r[0] for r in con.sql(query).fetchall()] == ["first"]
    tape = tracetape.open(path)
    with tracetape.span("second"):
        pass
    tape._processor.force_flush()  # pyright: ignore[reportPrivateUsage] - spooled, not folded
    with access.reading(path, 5.0, query) as con:
        assert [r[0] for r in con.sql(query).fetchall()] == ["first", "second"]
    count = "SELECT count(*) FROM traces"
    with access.reading(path, 5.0, count) as con:
        assert {"traces", "spans"} <= _temporary_views(con)
        assert con.sql(count).fetchall() == [(2,)]
    with access.reading(path, 5.0) as con:  # no query given: every view
        assert len(_temporary_views(con)) >= 8
    tape.close()


def test_a_deleted_tape_is_reported_and_a_replaced_one_is_read_anew(
    path: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other" / "tape.duckdb"
    _record(other, "other")
    assert _names(path) == ["first"]
    os.replace(other, path)
    shutil.rmtree(access.spool_mod.spool_dir(path))
    assert _names(path) == ["other"]
    path.unlink()
    with pytest.raises(TapeError, match="no tape"):
        _names(path)


@pytest.mark.skipif(
    not hasattr(os, "fork"),
    reason="os.fork does not exist on this platform (Windows): no forked child can inherit "
    "the reader, so there is nothing to test",
)
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_opens_its_own_reader(path: Path) -> None:
    assert _names(path) == ["first"]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            code = 0 if _names(path) == ["first"] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _names(path) == ["first"]
