"""Schema version 2 -> 3: a tape written before runs and artifacts opens, upgrades, keeps rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

import tracetape
from tests.unit.store import old_tapes
from tracetape.inspect.reader import TapeReader
from tracetape.store import connection
from tracetape.store.schema.tables import SCHEMA_VERSION

# Schema version 2 exactly as tracetape created it (frozen here: the code moved on).
_SPAN_COLUMNS = (
    "trace_id VARCHAR, span_id VARCHAR, parent_span_id VARCHAR, name VARCHAR, kind VARCHAR, "
    "operation VARCHAR, start_time TIMESTAMPTZ, end_time TIMESTAMPTZ, duration_ms DOUBLE, "
    "status VARCHAR, status_message VARCHAR, error_type VARCHAR, model VARCHAR, "
    "provider VARCHAR, tool_name VARCHAR, input JSON, output JSON, attributes JSON, "
    "input_tokens BIGINT, output_tokens BIGINT, run_id VARCHAR, environment_id VARCHAR, "
    "replay_of VARCHAR, tags VARCHAR[], replayable BOOLEAN, pid BIGINT"
)
_V2_DDL = [
    "CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE _folded (segment VARCHAR, folded_at TIMESTAMPTZ)",
    f"CREATE TABLE _spans ({_SPAN_COLUMNS})",
    "CREATE TABLE _blobs (hash VARCHAR, content JSON, size BIGINT)",
    "CREATE TABLE _environments (environment_id VARCHAR, taken_at TIMESTAMPTZ, "
    "python VARCHAR, platform VARCHAR, git_commit VARCHAR, git_dirty_hash VARCHAR, "
    "container_image VARCHAR, snapshot JSON)",
    "CREATE TABLE _scores (score_id VARCHAR, trace_id VARCHAR, span_id VARCHAR, "
    "name VARCHAR, value DOUBLE, label VARCHAR, comment VARCHAR, source VARCHAR, "
    "created_at TIMESTAMPTZ)",
    "CREATE TABLE _deleted (trace_id VARCHAR, deleted_at TIMESTAMPTZ)",
    "CREATE TABLE _deleted_blobs (hash VARCHAR, deleted_ns BIGINT)",
    "CREATE VIEW spans AS SELECT * FROM _spans",
    "CREATE VIEW traces AS SELECT trace_id, min(start_time) AS start_time FROM _spans "
    "GROUP BY trace_id",
]
_TRACE = old_tapes.TRACE
_SPOOLED_TRACE = old_tapes.SPOOLED_TRACE
_START = old_tapes.START


def _v2_tape(path: Path) -> None:
    con = old_tapes.create(path, _V2_DDL, 2)
    con.execute(
        "INSERT INTO _spans (trace_id, span_id, name, kind, start_time, end_time, status, "
        "environment_id) VALUES (?, 'aaaaaaaaaaaaaaaa', 'v2-root', 'chain', ?, ?, 'ok', 'env-2')",
        [_TRACE, _START, _START + dt.timedelta(seconds=1)],
    )
    con.execute(
        "INSERT INTO _environments (environment_id, python, snapshot) "
        "VALUES ('env-2', '3.11', '{\"environment_id\": \"env-2\"}')"
    )
    con.execute(
        "INSERT INTO _scores (score_id, trace_id, name, value, source, created_at) "
        "VALUES ('s1', ?, 'helpful', 1.0, 'human', ?)",
        [_TRACE, _START],
    )
    con.close()
    old_tapes.spool_one_span(path, "v2-spooled", ("spans", "blobs", "environments", "scores"))


def test_a_v2_tape_opens_upgrades_to_v3_keeps_its_rows_and_records_runs(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    _v2_tape(path)

    tape = tracetape.open(path)
    try:
        with tape.run("after-upgrade") as run:
            run.log_artifact({"k": 4}, kind="config")
        tape.flush()
        names = tape.sql("SELECT name FROM spans ORDER BY name").name.tolist()
        scores = tape.sql("SELECT name FROM scores").name.tolist()
        runs = tape.runs()
        artifacts = tape.artifacts()
        old_env = tape.environment("env-2")
    finally:
        tape.close()

    assert names == ["v2-root", "v2-spooled"]
    assert scores == ["helpful"]
    assert runs.run_id.tolist() == [run.run_id]
    assert artifacts.kind.tolist() == ["config"]
    assert old_env == {"environment_id": "env-2"}
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert connection.schema_version(con) == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert {"_runs", "_artifacts", "_artifact_links"} <= tables
        assert con.execute("SELECT count(*) FROM _spans").fetchall() == [(2,)]
        assert con.execute("SELECT count(*) FROM _runs").fetchall() == [(2,)]  # start, end
        assert con.execute("SELECT count(*) FROM _artifact_links").fetchall() == [(1,)]
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        assert {"runs", "artifacts", "artifact_links"} <= views
    finally:
        con.close()


def test_a_reader_upgrades_a_v2_tape_and_shows_empty_run_views(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    _v2_tape(path)
    reader = TapeReader(path, 5.0)

    runs = reader.sql("SELECT * FROM runs")
    links = reader.sql("SELECT * FROM artifact_links")

    assert runs.empty
    assert links.empty
    assert "n_traces" in runs.columns
    assert reader.sql("SELECT count(*) AS n FROM spans").n.tolist() == [2]
