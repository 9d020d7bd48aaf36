"""Export: selected traces and everything linked to them, one file per view, or a tape.

``traces``, ``spans``, ``scores``, ``blobs`` (the payloads the spans refer to, and the
member lists of the exported datasets), ``environments`` (those the spans and runs ran
in), ``runs`` (those the traces ran in, with their parent runs; every run when all
traces are exported), ``artifact_links`` (the links of those runs and traces) and
``artifacts`` (what those links name) go to ``DIR/<view>.parquet`` or
``DIR/<view>.jsonl`` (one JSON object a line), for DuckDB, pandas, Spark, BigQuery or
anything else. The columns are the views' own (``scores`` and ``tags`` stay nested in
Parquet and become JSON arrays in JSON lines). It reads through the public views, so
spans still in the spool are exported too, while another process records.

Format ``tape`` writes the same rows as a new, self-contained tape instead (what a test
keeps as a fixture to replay; see `tracetape.testing`): the file, written to a temporary
name beside it and renamed when complete, and its empty spool folder. Prompt and model
artifacts derived from spans are not copied; the new tape derives them from its own
spans again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from tracetape.errors import NotFoundError, TapeError
from tracetape.store import access, connection, fold, spool
from tracetape.store.schema.tables import SEGMENT_SCHEMAS
from tracetape.store.schema.views import blob_refs

Format = Literal["parquet", "jsonl", "tape"]
FORMATS: tuple[Format, ...] = ("parquet", "jsonl", "tape")

_SELECTED = "(SELECT trace_id FROM _export_ids)"
_RUNS = "(SELECT run_id FROM _export_runs)"
_LINKS = f"(SELECT * FROM artifact_links WHERE run_id IN {_RUNS} OR trace_id IN {_SELECTED})"
_QUERIES: dict[str, str] = {
    "traces": f"SELECT * FROM traces WHERE trace_id IN {_SELECTED} ORDER BY start_time",
    "spans": (
        f"SELECT * FROM spans WHERE trace_id IN {_SELECTED} ORDER BY trace_id, start_time, span_id"
    ),
    "scores": (f"SELECT * FROM scores WHERE trace_id IN {_SELECTED} ORDER BY created_at, score_id"),
    "blobs": (
        "SELECT * FROM blobs WHERE hash IN (SELECT unnest("
        f"{blob_refs('attributes')}) FROM spans WHERE trace_id IN {_SELECTED} "
        # A dataset's member hashes, which lineage matches retrieved documents against.
        "UNION SELECT metadata->'members'->>'blob' FROM artifacts WHERE artifact_id IN "
        f"(SELECT artifact_id FROM {_LINKS})) ORDER BY hash"
    ),
    "environments": (
        "SELECT * FROM environments WHERE environment_id IN (SELECT environment_id "
        f"FROM spans WHERE trace_id IN {_SELECTED} UNION SELECT environment_id FROM runs "
        f"WHERE run_id IN {_RUNS}) ORDER BY environment_id"
    ),
    "runs": f"SELECT * FROM runs WHERE run_id IN {_RUNS} ORDER BY start_time, run_id",
    "artifact_links": f"SELECT * FROM {_LINKS} ORDER BY created_at, link_id",
    "artifacts": (
        f"SELECT * FROM artifacts WHERE artifact_id IN (SELECT artifact_id FROM {_LINKS}) "
        "ORDER BY created_at, artifact_id"
    ),
}
"""File name (a public view) -> the query that selects its rows."""


# The spool folder each view's rows go to in an exported tape, selected in the column
# order and types of that folder's segments (JSON back to text; a run's latest row).
_TAPE_ROWS: dict[str, str] = {
    "spans": (
        "SELECT trace_id, span_id, parent_span_id, name, kind, operation, start_time, "
        "end_time, duration_ms, status, status_message, error_type, model, provider, "
        "tool_name, input::VARCHAR AS input, output::VARCHAR AS output, "
        "attributes::VARCHAR AS attributes, input_tokens, output_tokens, run_id, "
        "environment_id, replay_of, tags, replayable, NULL::BIGINT AS pid, replay "
        # The raw rows: the view leaves out ``replay``, which a replay of the new tape reads.
        f"FROM _span_rows WHERE trace_id IN {_SELECTED} ORDER BY trace_id, start_time, span_id"
    ),
    "blobs": "SELECT hash, content::VARCHAR AS content, size FROM ({blobs})",
    "environments": (
        "SELECT environment_id, taken_at, python, platform, git_commit, git_dirty_hash, "
        "container_image, snapshot::VARCHAR AS snapshot FROM ({environments})"
    ),
    "scores": (
        "SELECT score_id, trace_id, span_id, name, value, label, comment, source, created_at "
        "FROM ({scores})"
    ),
    "runs": (
        "SELECT run_id || CASE WHEN status = 'running' THEN ':start' ELSE ':end' END "
        "AS record_id, run_id, name, parent_run_id, status, error_type, error_message, "
        "params::VARCHAR AS params, tags, start_time, end_time, environment_id, trace_id, "
        "parent_span_id, NULL::BIGINT AS pid, coalesce(end_time, start_time) AS recorded_at "
        "FROM ({runs})"
    ),
    "artifacts": (
        "SELECT artifact_id, kind, name, uri, size, metadata::VARCHAR AS metadata, created_at "
        "FROM ({artifacts}) WHERE source = 'logged'"
    ),
    "artifact_links": (
        "SELECT link_id, artifact_id, run_id, trace_id, span_id, role, name, uri, created_at "
        "FROM ({artifact_links}) WHERE source = 'logged'"
    ),
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _select_runs(con: duckdb.DuckDBPyConnection, every_run: bool) -> None:
    """Fill ``_export_runs``: every run, or the selected traces' runs and their parents."""
    if every_run:
        con.execute("CREATE OR REPLACE TEMP TABLE _export_runs AS SELECT run_id FROM runs")
        return
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _export_runs AS "
        "WITH RECURSIVE up(run_id) AS ("
        f"SELECT DISTINCT run_id FROM spans WHERE trace_id IN {_SELECTED} AND run_id IS NOT NULL "
        "UNION SELECT r.parent_run_id FROM runs r JOIN up ON r.run_id = up.run_id "
        "WHERE r.parent_run_id IS NOT NULL) SELECT run_id FROM up"
    )


def _select_ids(con: duckdb.DuckDBPyConnection, trace_ids: Sequence[str] | None) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _export_ids (trace_id VARCHAR)")
    if trace_ids is None:
        con.execute("INSERT INTO _export_ids SELECT DISTINCT trace_id FROM spans")
        _select_runs(con, every_run=True)
        return
    wanted = sorted({str(t).strip().lower() for t in trace_ids})
    con.execute(
        "INSERT INTO _export_ids SELECT DISTINCT trace_id FROM spans "
        "WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
        [wanted],
    )
    rows = con.execute("SELECT trace_id FROM _export_ids").fetchall()
    missing = sorted(set(wanted) - {str(r[0]) for r in rows})
    if missing:
        raise NotFoundError(f"no trace {missing[0]!r} on this tape (nothing was exported)")
    _select_runs(con, every_run=False)


def export(
    path: Path,
    timeout: float,
    dest: Path,
    *,
    fmt: Format = "parquet",
    trace_ids: Sequence[str] | None = None,
) -> dict[str, int]:
    """Write the selected traces (all when ``trace_ids`` is None) and what they link to.

    Returns rows written per view. Files are written under a temporary name and renamed.

    Example:
        >>> export(Path(".tracetape/tape.duckdb"), 30.0, Path("out"), fmt="jsonl")
        {'traces': 3, 'spans': 48, 'scores': 1, 'blobs': 14, 'environments': 1}
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if isinstance(trace_ids, str):
        trace_ids = [trace_ids]
    if not path.is_file():
        raise TapeError(f"no tape at {path}")
    if fmt == "tape":
        return _export_tape(path, timeout, dest, trace_ids)
    dest.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT json"
    written: dict[str, int] = {}
    with access.reading(path, timeout) as con:
        _select_ids(con, trace_ids)
        for view, query in _QUERIES.items():
            target = dest / f"{view}.{fmt}"
            tmp = dest / f".{view}.{fmt}.tmp"
            rows = con.execute(f"COPY ({query}) TO {_quote(str(tmp))} ({options})").fetchall()
            tmp.replace(target)
            written[view] = int(rows[0][0]) if rows else 0
        con.execute("DROP TABLE IF EXISTS _export_ids")
        con.execute("DROP TABLE IF EXISTS _export_runs")
    return written


def _export_tape(
    path: Path, timeout: float, dest: Path, trace_ids: Sequence[str] | None
) -> dict[str, int]:
    """Write the selected rows as a new tape at ``dest`` (which must not exist yet)."""
    if dest.exists() or spool.spool_dir(dest).exists():
        raise TapeError(
            f"{dest} or its spool folder {spool.spool_dir(dest).name} exists: a tape is "
            "exported to a new file"
        )
    tables: dict[str, pa.Table] = {}
    with access.reading(path, timeout) as con:
        _select_ids(con, trace_ids)
        for folder, rows in _TAPE_ROWS.items():
            query = rows.format(**{view: _QUERIES[view] for view in _TAPE_ROWS})
            schema = SEGMENT_SCHEMAS[folder]
            tables[folder] = con.sql(query).to_arrow_table().cast(schema)
        n_traces = int(con.execute("SELECT count(*) FROM _export_ids").fetchall()[0][0])
        con.execute("DROP TABLE IF EXISTS _export_ids")
        con.execute("DROP TABLE IF EXISTS _export_runs")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    dest_spool = spool.spool_dir(dest)
    done = False
    try:
        access.create_or_upgrade(partial, timeout)
        segments = spool.spool_dir(partial)
        for folder, table in tables.items():
            if table.num_rows:
                spool.write_segment(segments, folder, table)
        spool.ensure(dest_spool)
        with access.writing(partial, timeout) as con:
            if con is None:  # pragma: no cover - with a timeout it waits or raises
                raise TapeError(f"could not open {partial} to write it")
            fold.fold_into(con, segments)
            # Its saved views read the spool beside ``dest`` (plain DuckDB uses them).
            connection.prepare(con, dest_spool.resolve())
        partial.replace(dest)
        done = True
    finally:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        shutil.rmtree(spool.spool_dir(partial), ignore_errors=True)
        if not done:
            shutil.rmtree(dest_spool, ignore_errors=True)
    return {"traces": n_traces} | {folder: table.num_rows for folder, table in tables.items()}
