"""Recorded traces as test fixtures: a trace exported as a small tape file of its own,
then replayed against the app in a test (``tape_from``) with no provider contacted and
the fixture file never written."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb
import pytest

import tracetape
from tests.e2e.test_replay import QUESTION, agent, record, script_three_steps
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.cli.main import main
from tracetape.errors import NotFoundError, TapeError
from tracetape.inspect.reader import TapeReader

# Every view but the derived prompt and model rows, which the new tape derives again.
_ROWS = {
    "spans": "SELECT * EXCLUDE (environment_id) FROM spans WHERE trace_id = ? "
    "ORDER BY start_time, span_id",
    "blobs": "SELECT hash, content::VARCHAR AS content, size FROM blobs WHERE hash IN "
    "(SELECT unnest(regexp_extract_all(attributes::VARCHAR, '[0-9a-f]{64}')) FROM spans "
    "WHERE trace_id = ?) ORDER BY hash",
    "scores": "SELECT name, value, label, comment FROM scores WHERE trace_id = ? ORDER BY name",
    "runs": "SELECT run_id, name, status, params, tags FROM runs WHERE trace_id = ? "
    "OR run_id IN (SELECT run_id FROM spans WHERE trace_id = ?)",
    "artifacts": "SELECT artifact_id, kind, name, source FROM artifacts ORDER BY artifact_id",
    "links": "SELECT artifact_id, run_id, role, source FROM artifact_links WHERE trace_id = ? "
    "OR run_id IN (SELECT run_id FROM spans WHERE trace_id = ?) ORDER BY artifact_id, role",
    "environments": "SELECT * FROM environments WHERE environment_id IN "
    "(SELECT environment_id FROM spans WHERE trace_id = ?)",
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(source: Any, name: str, trace_id: str) -> list[dict[str, Any]]:
    """The rows as Python values (a tape or a reader of one)."""
    query, params = _ROWS[name], [trace_id] * _ROWS[name].count("?")
    if isinstance(source, TapeReader):
        return source.arrow(query, params).to_pylist()
    return source.sql(query, params, format="arrow").to_pylist()


def recorded_in_a_run(tape: Any, server: Any, data: Path) -> str:
    script_three_steps(server)
    with tape.run("nightly-eval", params={"k": 3}, tags=["fixture"]) as run:
        run.log_artifact(data, kind="dataset")
        agent(server.chat_model()).invoke(QUESTION, config={"callbacks": [tape.langchain()]})
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    tape.score(trace_id, "correct", 1.0, comment="checked by hand")
    return trace_id


def test_a_trace_exported_as_a_tape_holds_it_and_all_it_links_to(tape, openai_server, tmp_path):
    data = tmp_path / "questions.jsonl"
    data.write_text('{"q": "add 1 and 2"}\n')
    trace_id = recorded_in_a_run(tape, openai_server, data)
    script_three_steps(openai_server)
    agent(openai_server.chat_model()).invoke(QUESTION, config={"callbacks": [tape.langchain()]})
    tape.flush()  # a second trace, not exported
    fixture = tmp_path / "fixtures" / "calculator.duckdb"

    written = tape.export(fixture, "tape", traces=[trace_id])

    # The file and its spool folder, empty (no segment, no temporary left).
    assert sorted(p.name for p in fixture.parent.iterdir()) == [
        "calculator.duckdb",
        "calculator.spool",
    ]
    segments = fixture.parent / "calculator.spool"
    assert {p.name for p in segments.rglob("*.parquet")} == {"_schema.parquet"}
    # Plain DuckDB reads it through the tape's saved views.
    with duckdb.connect(str(fixture), read_only=True) as con:
        assert con.sql("select count(*) from spans").fetchall() == [(written["spans"],)]
    assert written["traces"] == 1 and written["spans"] == len(tape.trace(trace_id).spans)
    exported = TapeReader(fixture)
    assert list(exported.traces().trace_id) == [trace_id]
    for name in _ROWS:  # the dataset logged, the prompt and model derived again: all alike
        assert rows(exported, name, trace_id) == rows(tape, name, trace_id), name
    assert {r["kind"] for r in rows(exported, "artifacts", trace_id)} >= {"dataset", "prompt"}


def test_a_test_replays_the_fixture_without_a_provider_or_writing_it(
    tape, tape_from, openai_server, tmp_path
):
    trace_id, recorded = record(tape, openai_server)
    fixture = tmp_path / "calculator.duckdb"
    tape.export(fixture, "tape", traces=[trace_id])
    before, requests = digest(fixture), openai_server.request_count

    copy = tape_from(fixture)
    replay = copy.replay(trace_id, app=agent(openai_server.chat_model()))

    assert replay.same_output and not replay.divergences and replay.from_tape == 6
    assert replay.output["messages"][-1].content == recorded["messages"][-1].content
    assert openai_server.request_count == requests
    assert replay.trace_id in set(copy.traces().trace_id)  # recorded into the copy
    assert digest(fixture) == before and copy.path != fixture


def test_a_changed_app_fails_the_fixture_test_with_the_divergence(
    tape, tape_from, openai_server, tmp_path
):
    trace_id, _ = record(tape, openai_server)
    fixture = tmp_path / "calculator.duckdb"
    tape.export(fixture, "tape", traces=[trace_id])

    with pytest.raises(tracetape.ReplayDivergence) as caught:
        tape_from(fixture).replay(
            trace_id, app=agent(openai_server.chat_model(), system="Be terse.")
        )

    assert "Be terse." in str(caught.value)


def test_a_tape_is_exported_only_to_a_new_file_and_only_with_known_traces(
    tape, openai_server, tmp_path
):
    trace_id, _ = record(tape, openai_server)
    taken = tmp_path / "taken.duckdb"
    taken.write_bytes(b"")
    stale = tmp_path / "stale.spool" / "spans"  # left by an older tape of that name
    stale.mkdir(parents=True)

    for dest in (taken, tmp_path / "stale.duckdb"):
        with pytest.raises(TapeError, match="exists"):
            tape.export(dest, "tape", traces=[trace_id])
    assert not (tmp_path / "stale.duckdb").exists()
    with pytest.raises(NotFoundError, match="0" * 32):
        tape.export(tmp_path / "missing.duckdb", "tape", traces=["0" * 32])

    assert sorted(p.name for p in tmp_path.iterdir() if "missing" in p.name) == []


def test_a_fixture_tape_from_the_command_line(tape, openai_server, tmp_path, capsys):
    trace_id, _ = record(tape, openai_server)
    tape.close()
    fixture = tmp_path / "fixture.duckdb"

    code = main(["export", "--path", str(tape.path), "--format", "tape", "--out", str(fixture),
                 "--trace", trace_id])  # fmt: skip

    assert code == 0 and "spans" in capsys.readouterr().out
    assert list(TapeReader(fixture).traces().trace_id) == [trace_id]


def test_tape_from_names_a_missing_fixture(tape_from, tmp_path):
    with pytest.raises(FileNotFoundError, match="format='tape'"):
        tape_from(tmp_path / "nothing.duckdb")
