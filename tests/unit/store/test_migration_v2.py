"""Schema version 1 -> 2: a tape written before scores existed opens, upgrades, keeps rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

import tracetape
from tests.unit.store import old_tapes
from tracetape.inspect.reader import TapeReader
from tracetape.store import connection
from tracetape.store.schema.tables import SCHEMA_VERSION

# Schema version 1 exactly as tracetape created it (frozen here: the code moved on).
_V1_SPAN_COLUMNS = (
    "trace_id VARCHAR, span_id VARCHAR, parent_span_id VARCHAR, name VARCHAR, kind VARCHAR, "
    "operation VARCHAR, start_time TIMESTAMPTZ, end_time TIMESTAMPTZ, duration_ms DOUBLE, "
    "status VARCHAR, status_message VARCHAR, error_type VARCHAR, model VARCHAR, "
    "provider VARCHAR, tool_name VARCHAR, input JSON, output JSON, attributes JSON, "
    "input_tokens BIGINT, output_tokens BIGINT, run_id VARCHAR, environment_id VARCHAR, "
    "replay_of VARCHAR, tags VARCHAR[], replayable BOOLEAN, pid BIGINT"
)
_V1_DDL = [
    "CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE TABLE _folded (segment VARCHAR, folded_at TIMESTAMPTZ)",
    f"CREATE TABLE _spans ({_V1_SPAN_COLUMNS})",
    "CREATE TABLE _blobs (hash VARCHAR, content JSON, size BIGINT)",
    "CREATE TABLE _environments (environment_id VARCHAR, taken_at TIMESTAMPTZ, "
    "python VARCHAR, platform VARCHAR, git_commit VARCHAR, git_dirty_hash VARCHAR, "
    "container_image VARCHAR, snapshot JSON)",
    "CREATE VIEW spans AS SELECT * FROM _spans",
    "CREATE VIEW traces AS SELECT trace_id, min(start_time) AS start_time FROM _spans "
    "GROUP BY trace_id",
]
_TRACE = old_tapes.TRACE
_SPOOLED_TRACE = old_tapes.SPOOLED_TRACE
_START = old_tapes.START


def _v1_tape(path: Path) -> None:
    con = old_tapes.create(path, _V1_DDL, 1)
    con.execute(
        "INSERT INTO _spans (trace_id, span_id, name, kind, start_time, end_time, status, "
        "attributes, environment_id) VALUES (?, 'aaaaaaaaaaaaaaaa', 'v1-root', 'chain', ?, ?, "
        "'ok', '{\"tracetape.replay.input\": [\"" + "c" * 64 + "\"]}', 'env-1')",
        [_TRACE, _START, _START + dt.timedelta(seconds=1)],
    )
    con.execute("INSERT INTO _blobs VALUES (?, '{\"m\": 1}', 8)", ["c" * 64])
    con.execute("INSERT INTO _environments (environment_id, python) VALUES ('env-1', '3.11')")
    con.close()
    old_tapes.spool_one_span(path, "v1-spooled", ("spans",))


def test_a_v1_tape_opens_upgrades_to_v2_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    _v1_tape(path)

    tape = tracetape.open(path)
    try:
        names = tape.sql("SELECT name FROM spans ORDER BY name").name.tolist()
        tape.score(_TRACE, "helpful", True)
        tape.score(_SPOOLED_TRACE, "category", "billing")
        tape.flush()
        listed = tape.sql("SELECT trace_id, scores FROM traces ORDER BY trace_id")
        blobs = tape.sql("SELECT hash FROM blobs").hash.tolist()
    finally:
        tape.close()

    assert names == ["v1-root", "v1-spooled"]
    assert [[s["name"] for s in row] for row in listed.scores] == [["helpful"], ["category"]]
    assert blobs == ["c" * 64]
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert connection.schema_version(con) == SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert {"_scores", "_deleted", "_deleted_blobs"} <= tables
        assert con.execute("SELECT count(*) FROM _spans").fetchall() == [(2,)]
        assert con.execute("SELECT count(*) FROM _scores").fetchall() == [(2,)]
    finally:
        con.close()


def test_a_reader_upgrades_a_v1_tape_too(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    _v1_tape(path)

    frame = TapeReader(path, 5.0).sql("SELECT name, scores FROM traces ORDER BY name")

    assert frame.name.tolist() == ["v1-root", "v1-spooled"]
    assert [list(s) for s in frame.scores] == [[], []]
