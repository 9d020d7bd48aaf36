"""Retention: delete traces and everything linked only to them, for good.

What goes: the traces' spans (folded or still in the spool), their scores and the
scores of their spans, the payload blobs no remaining span refers to, and the
environments no remaining span refers to.

The guarantee:

- The spool is folded first (waiting for the file lock up to the timeout), then every
  row goes in one transaction: readers see all of it or none of it.
- A deleted trace stays deleted. Its id goes into ``_deleted``: a span or score of it
  that a recording process spools later (the trace was still running, or another
  process renamed a segment into place after the fold) is never folded and never shown.
  A deleted blob goes into ``_deleted_blobs`` with the time of the deletion: a segment
  written before that time cannot bring it back; one written after (the same content
  recorded again by a new trace) can.
- Deleted content is gone from the tape's files. DuckDB keeps freed blocks in its file
  and reuses them without clearing them (``CHECKPOINT`` and ``VACUUM`` leave deleted
  text readable in the file's bytes), so the database is copied into a fresh file with
  ``COPY FROM DATABASE`` (DuckDB's documented way to compact) and that file replaces the
  tape while the lock is still held; folded spool segments are removed by the fold.
  A segment that arrives late (see above) keeps its bytes until the next fold drops it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tracetape.errors import NotFoundError, TapeError
from tracetape.store import access, connection, fold, spool
from tracetape.store.schema.views import blob_refs, view_ddl


@dataclass(frozen=True)
class Deleted:
    """How many rows a deletion removed (or, with ``dry_run``, would remove)."""

    traces: int
    spans: int
    scores: int
    blobs: int
    environments: int
    dry_run: bool = False


def cutoff(older_than: dt.timedelta | dt.datetime) -> dt.datetime:
    """An age (``timedelta``) or a moment -> the UTC moment traces must have ended before."""
    if isinstance(older_than, dt.timedelta):
        if older_than < dt.timedelta(0):
            raise ValueError(f"older_than must not be negative, got {older_than}")
        return dt.datetime.now(dt.UTC) - older_than
    if older_than.tzinfo is None:
        raise ValueError("older_than as a datetime needs a timezone (e.g. datetime.UTC)")
    return older_than.astimezone(dt.UTC)


def _select(
    con: duckdb.DuckDBPyConnection,
    trace_ids: Sequence[str] | None,
    older_than: dt.datetime | None,
) -> None:
    """Fill temp table ``_doomed`` with the trace ids to delete."""
    con.execute("CREATE OR REPLACE TEMP TABLE _doomed (trace_id VARCHAR)")
    if trace_ids is not None:
        wanted = sorted({str(t).strip().lower() for t in trace_ids})
        con.execute(
            "INSERT INTO _doomed SELECT DISTINCT trace_id FROM _spans "
            "WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
            [wanted],
        )
        found = {str(r[0]) for r in con.execute("SELECT trace_id FROM _doomed").fetchall()}
        missing = [t for t in wanted if t not in found]
        if missing:
            raise NotFoundError(f"no trace {missing[0]!r} on this tape (nothing was deleted)")
    if older_than is not None and trace_ids is not None:
        con.execute(
            "DELETE FROM _doomed WHERE trace_id NOT IN "
            "(SELECT trace_id FROM _spans GROUP BY trace_id HAVING max(end_time) < ?)",
            [older_than],
        )
    elif older_than is not None:
        con.execute(
            "INSERT INTO _doomed SELECT trace_id FROM _spans "
            "GROUP BY trace_id HAVING max(end_time) < ?",
            [older_than],
        )


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    rows = con.execute(sql, params or []).fetchall()
    return int(rows[0][0]) if rows else 0


def _delete_rows(con: duckdb.DuckDBPyConnection, keep_environments: list[str]) -> Deleted:
    doomed = "(SELECT trace_id FROM _doomed)"
    traces = _count(con, "SELECT count(*) FROM _doomed")
    # Candidates first, while the doomed spans still say what they refer to.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _doomed_blobs AS SELECT DISTINCT unnest(refs) AS hash "
        f"FROM (SELECT {blob_refs('attributes')} AS refs FROM _spans "
        f"WHERE trace_id IN {doomed})"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _doomed_envs AS SELECT DISTINCT environment_id "
        f"FROM _spans WHERE trace_id IN {doomed} AND environment_id IS NOT NULL"
    )
    scores = _count(
        con,
        f"DELETE FROM _scores WHERE trace_id IN {doomed} OR span_id IN "
        f"(SELECT span_id FROM _spans WHERE trace_id IN {doomed})",
    )
    spans = _count(con, f"DELETE FROM _spans WHERE trace_id IN {doomed}")
    con.execute("INSERT INTO _deleted SELECT trace_id, now() FROM _doomed")
    # What still refers to a blob or an environment: every span left, spool included.
    blobs = _count(
        con,
        "DELETE FROM _blobs WHERE hash IN (SELECT hash FROM _doomed_blobs) AND hash NOT IN "
        f"(SELECT unnest({blob_refs('attributes')}) FROM spans)",
    )
    con.execute(
        "INSERT INTO _deleted_blobs SELECT hash, ? FROM _doomed_blobs WHERE hash NOT IN "
        f"(SELECT unnest({blob_refs('attributes')}) FROM spans)",
        [time.time_ns()],
    )
    environments = _count(
        con,
        "DELETE FROM _environments WHERE environment_id IN "
        "(SELECT environment_id FROM _doomed_envs) AND environment_id NOT IN "
        "(SELECT environment_id FROM spans WHERE environment_id IS NOT NULL) "
        "AND environment_id NOT IN (SELECT unnest(?::VARCHAR[]))",
        [keep_environments],
    )
    return Deleted(traces, spans, scores, blobs, environments)


def compact(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Rewrite the tape into a fresh file, so deleted rows leave no bytes behind.

    ``con`` must hold the file read-write; the copy replaces ``path`` before ``con``
    closes, so no other process can open the old file in between and write into it.
    """
    con.execute("CHECKPOINT")
    fresh = path.with_name(f".{path.name}.compact-{os.getpid()}.tmp")
    for leftover in (fresh, Path(f"{fresh}.wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    source = con.execute("SELECT current_database()").fetchall()[0]
    quoted = "'" + str(fresh).replace("'", "''") + "'"
    con.execute(f"ATTACH {quoted} AS _compact")
    try:
        con.execute(f'COPY FROM DATABASE "{source[0]}" TO _compact')
    finally:
        con.execute("DETACH _compact")
    os.replace(fresh, path)


def delete(
    path: Path,
    timeout: float,
    *,
    trace_ids: Sequence[str] | None = None,
    older_than: dt.timedelta | dt.datetime | None = None,
    dry_run: bool = False,
    compact_file: bool = True,
    keep_environments: Sequence[str] = (),
) -> Deleted:
    """Delete the given traces and/or those that ended before ``older_than``.

    ``keep_environments``: environment ids to keep even when no span is left in them
    (the calling process's own: it writes its snapshot once and keeps recording in it).

    Example:
        >>> delete(Path("runs/tape.duckdb"), 30.0, older_than=dt.timedelta(days=30))
        Deleted(traces=12, spans=540, scores=3, blobs=88, environments=1, dry_run=False)
    """
    if trace_ids is None and older_than is None:
        raise ValueError("say what to delete: trace_ids, older_than, or both")
    if isinstance(trace_ids, str):
        trace_ids = [trace_ids]
    moment = cutoff(older_than) if older_than is not None else None
    if not path.is_file():
        raise TapeError(f"no tape at {path}")
    spool_path = spool.spool_dir(path).resolve()
    spool.ensure(spool_path)
    with access.writing(path, timeout) as con:
        assert con is not None  # a timeout was given: it waits or raises
        connection.ensure_current(con, spool_path)
        fold.fold_into(con, spool_path)
        # Views bound to this spool: the stored ones name the spool of the path the tape
        # was last upgraded at, which a moved tape no longer has.
        for statement in view_ddl(spool_path, temporary=True):
            con.execute(statement)
        con.execute("BEGIN")
        try:
            _select(con, trace_ids, moment)
            counts = _delete_rows(con, list(keep_environments))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if dry_run:
            con.execute("ROLLBACK")
            return Deleted(**{**counts.__dict__, "dry_run": True})
        con.execute("COMMIT")
        con.execute("DROP TABLE IF EXISTS _doomed_blobs")
        if compact_file and counts.traces:
            compact(con, path)
    return counts
