"""Feedback scores: on traces and spans, in the ``scores`` view and in ``traces()``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from opentelemetry import trace as otel_trace

import tracetape
from tracetape.store import scores
from tracetape.tape import Tape


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as dicts, with pandas' missing values as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _two_traces(tape: Tape) -> tuple[str, str, str]:
    with tracetape.span("answer"), tracetape.span("lookup", kind="tool"):
        pass
    with tracetape.span("other"):
        pass
    tape.flush()
    frame = tape.sql("SELECT trace_id FROM traces ORDER BY start_time")
    first, second = frame.trace_id.tolist()
    span_id = tape.sql("SELECT span_id FROM spans WHERE name = 'lookup'").span_id[0]
    return first, second, span_id


def test_scores_show_in_the_scores_view_and_latest_per_name_in_traces(tape: Tape) -> None:
    trace_id, other, span_id = _two_traces(tape)

    tape.score(trace_id, "helpful", False)
    tape.score(trace_id.upper(), "helpful", True, comment="right tool, right answer")
    tape.score(trace_id, "category", "billing")
    tape.score(span_id, "relevance", 0.25, source="auto")

    rows = tape.sql(
        "SELECT trace_id, span_id, name, value, label, comment, source FROM scores "
        "ORDER BY created_at"
    )
    assert _records(rows) == [
        {
            "trace_id": trace_id,
            "span_id": None,
            "name": "helpful",
            "value": 0.0,
            "label": None,
            "comment": None,
            "source": "human",
        },
        {
            "trace_id": trace_id,
            "span_id": None,
            "name": "helpful",
            "value": 1.0,
            "label": None,
            "comment": "right tool, right answer",
            "source": "human",
        },
        {
            "trace_id": trace_id,
            "span_id": None,
            "name": "category",
            "value": None,
            "label": "billing",
            "comment": None,
            "source": "human",
        },
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "name": "relevance",
            "value": 0.25,
            "label": None,
            "comment": None,
            "source": "auto",
        },
    ]
    listed = tape.sql("SELECT trace_id, scores FROM traces")
    by_trace = {row.trace_id: list(row.scores) for row in listed.itertuples()}
    assert by_trace[trace_id] == [
        {"name": "category", "value": None, "label": "billing", "source": "human"},
        {"name": "helpful", "value": 1.0, "label": None, "source": "human"},
    ]
    assert by_trace[other] == []


def test_scores_survive_a_fold_without_doubling(tape: Tape) -> None:
    trace_id, _, _ = _two_traces(tape)
    tape.score(trace_id, "helpful", True)
    before = tape.sql("SELECT score_id, name FROM scores")

    tape.flush()  # folds the scores segment into _scores

    assert tape.sql("SELECT score_id, name FROM scores").equals(before)
    spooled = list((tape.path.with_name("tape.spool") / "scores").glob("[0-9]*.parquet"))
    assert spooled == []


def test_unknown_ids_and_bad_values_are_refused(tape: Tape) -> None:
    trace_id, _, _ = _two_traces(tape)

    with pytest.raises(tracetape.NotFoundError, match="no trace"):
        tape.score("0" * 32, "helpful", True)
    with pytest.raises(tracetape.NotFoundError, match="no span"):
        tape.score("0" * 16, "helpful", True)
    with pytest.raises(ValueError, match="neither a trace id"):
        tape.score("abc", "helpful", True)
    with pytest.raises(ValueError, match="finite"):
        tape.score(trace_id, "grade", float("nan"))
    with pytest.raises(TypeError, match=r"bool .* number .* str"):
        tape.score(trace_id, "grade", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        tape.score(trace_id, " ", 1)
    with pytest.raises(TypeError, match="comment"):
        tape.score(trace_id, "grade", 1, comment=3)  # type: ignore[arg-type]
    assert tape.sql("SELECT count(*) AS n FROM scores").n.tolist() == [0]


def test_the_running_span_and_its_trace_can_be_scored_before_they_end(tape: Tape) -> None:
    with tracetape.span("answer"), tracetape.span("judge"):
        context = otel_trace.get_current_span().get_span_context()
        span_id, trace_id = f"{context.span_id:016x}", f"{context.trace_id:032x}"
        tape.score(span_id, "confident", 0.9, source="auto")
        tape.score(trace_id, "helpful", True)
    tape.flush()

    rows = tape.sql("SELECT trace_id, span_id, name FROM scores ORDER BY name")
    assert _records(rows) == [
        {"trace_id": trace_id, "span_id": span_id, "name": "confident"},
        {"trace_id": trace_id, "span_id": None, "name": "helpful"},
    ]


def test_a_span_score_without_its_trace_id_is_resolved_by_the_view(tape: Tape) -> None:
    trace_id, _, span_id = _two_traces(tape)

    scores.write(tape.path, scores.Target(None, span_id), "relevance", 1)

    assert tape.sql("SELECT trace_id FROM scores").trace_id.tolist() == [trace_id]


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the tape's DuckDB file read-write until told to stop."""
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
    yield process
    if process.poll() is None:
        process.communicate("", timeout=30)


def test_scoring_works_while_another_process_holds_the_file(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    tape = tracetape.open(tmp_path / "tape.duckdb")  # spools: the file is held
    with tracetape.span("while-held"):
        trace_id = f"{otel_trace.get_current_span().get_span_context().trace_id:032x}"
    tape.flush()  # spooled; the fold is deferred

    score_id = tape.score(trace_id, "helpful", True)

    holder.communicate("", timeout=30)  # the other process lets go
    assert tape.sql("SELECT score_id, trace_id FROM scores").values.tolist() == [
        [score_id, trace_id]
    ]
    tape.close()


def test_a_trace_that_just_ended_can_be_scored_before_any_flush(tape: Tape) -> None:
    with tracetape.span("answer"):
        trace_id = f"{otel_trace.get_current_span().get_span_context().trace_id:032x}"

    tape.score(trace_id, "helpful", True)  # its span may still be queued in memory

    assert tape.sql("SELECT trace_id FROM scores").trace_id.tolist() == [trace_id]
