"""Export: selected traces and everything linked to them, one file per public view.

``traces``, ``spans``, ``scores``, ``blobs`` (the payloads the spans refer to, and the
member lists of the exported datasets), ``environments`` (those the spans and runs ran
in), ``runs`` (those the traces ran in, with their parent runs; every run when all
traces are exported), ``artifact_links`` (the links of those runs and traces) and
``artifacts`` (what those links name) go to ``DIR/<view>.parquet`` or
``DIR/<view>.jsonl`` (one JSON object a line), for DuckDB, pandas, Spark, BigQuery or
anything else. The columns are the views' own (``scores`` and ``tags`` stay nested in
Parquet and become JSON arrays in JSON lines). It reads through the public views, so
spans still in the spool are exported too, while another process records.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import duckdb

from tracetape.errors import NotFoundError, TapeError
from tracetape.store import access
from tracetape.store.schema.views import blob_refs

Format = Literal["parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("parquet", "jsonl")

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
