"""`tape.traces(...)` and `tracetape ls` on the demo agent's real traces: rows and filters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tracetape
from tracetape.cli.main import main
from tracetape.demo import record
from tracetape.inspect.frames import CUT_MARK, SHORT_CHARS
from tracetape.tape import Tape


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tape, list[str]]:
    """The demo's three traces (shipping+calculator, order A-1042, failed order Z-9999)."""
    run = record(tmp_path_factory.mktemp("frame") / "tape.duckdb")
    tape = tracetape.open(run.path)
    yield tape, run.trace_ids
    tape.close()


def _ids(frame: pd.DataFrame) -> list[str]:
    return [str(x) for x in frame["trace_id"]]


def test_one_row_per_trace_newest_first_with_counts_and_short_io(demo):
    tape, ids = demo
    frame = tape.traces()
    assert _ids(frame) == ids[::-1]
    first = frame.set_index("trace_id").loc[ids[0]]
    assert (first["name"], first["status"]) == ("support-agent", "ok")
    assert (first["n_llm"], first["n_tool"], first["n_retriever"]) == (3, 2, 1)
    assert list(first["models"]) == ["DeterministicFakeEmbedding", "tracetape-demo-1"]
    assert list(first["tags"]) == ["demo"]
    assert first["input_tokens"] > 0 and first["duration_ms"] > 0
    assert "shipping to Canada" in first["input"]
    # The root's output is the whole conversation: cut, and the cut is marked.
    assert len(first["output"]) == SHORT_CHARS and first["output"].endswith(CUT_MARK)
    # Everything the view has comes along (scores included).
    view_columns = list(tape.sql("SELECT * FROM traces LIMIT 0").columns)
    assert list(frame.columns) == [*view_columns, "input", "output"]


@pytest.mark.parametrize(
    ("filters", "which"),
    [
        ({"errors_only": True}, [2]),
        ({"tool": "calculator"}, [0]),
        ({"tool": "lookup_order"}, [1, 2]),
        ({"node": "tools"}, [0, 1, 2]),
        ({"node": "no-such-node"}, []),
        ({"model": "tracetape-demo-1"}, [0, 1, 2]),
        ({"model": "DeterministicFakeEmbedding"}, [0]),
        ({"model": "gpt-4o"}, []),
        ({"search": "z-9999"}, [2]),
        ({"search": "A-1042"}, [1]),
        ({"tag": "demo"}, [0, 1, 2]),
        ({"tag": "prod"}, []),
        ({"name": "support-agent"}, [0, 1, 2]),
        ({"run": "run-unknown"}, []),
        ({"since": "1h"}, [0, 1, 2]),
        ({"until": "1h"}, []),
        ({"since": dt.datetime(2999, 1, 1)}, []),
        ({"until": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)}, [0, 1, 2]),
        ({"errors_only": True, "tool": "calculator"}, []),
        ({"tool": "lookup_order", "search": "A-1042", "since": "1d"}, [1]),
        ({"tool": "x' OR 1=1 --"}, []),
    ],
)
def test_filters_combine(demo, filters, which):
    tape, ids = demo
    assert _ids(tape.traces(**filters)) == [ids[i] for i in which][::-1]


def test_limit_keeps_the_newest(demo):
    tape, ids = demo
    assert _ids(tape.traces(limit=1)) == [ids[2]]
    assert tape.traces(limit=0).empty


def test_arrow_and_polars_give_the_same_rows(demo):
    tape, ids = demo
    table = tape.traces(format="arrow", tool="lookup_order")
    assert isinstance(table, pa.Table)
    assert table.column("trace_id").to_pylist() == [ids[2], ids[1]]
    frame = tape.traces(format="polars")
    assert isinstance(frame, pl.DataFrame)
    assert frame["trace_id"].to_list() == ids[::-1]
    assert tape.sql("SELECT count(*) AS n FROM spans", format="polars")["n"][0] > 0
    with pytest.raises(tracetape.TapeError, match="unknown format"):
        tape.traces(format="excel")


def test_a_bad_time_is_a_clear_error(demo):
    tape, _ = demo
    with pytest.raises(tracetape.TapeError, match="as a time"):
        tape.traces(since="yesterday")


def test_new_traces_show_on_the_next_listing(tmp_path: Path):
    tape = tracetape.open(tmp_path / "tape.duckdb")
    try:
        assert tape.traces().empty
        with tracetape.span("one"):
            pass
        tape.flush()
        assert list(tape.traces()["name"]) == ["one"]
        with tracetape.span("two"):
            pass
        tape.flush()
        assert list(tape.traces()["name"]) == ["two", "one"]
    finally:
        tape.close()


def test_a_run_that_just_ended_is_read_without_a_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TRACETAPE_FLUSH_INTERVAL", "600")  # no background write meanwhile
    tape = tracetape.open(tmp_path / "tape.duckdb")
    try:
        with tracetape.span("just now"):
            pass
        assert list(tape.traces()["name"]) == ["just now"]
        trace_id = str(tape.traces().trace_id[0])
        with tracetape.span("and again"):
            pass
        assert tape.trace(trace_id).spans.shape[0] == 1
        assert sorted(tape.sql("SELECT name FROM spans").name) == ["and again", "just now"]
    finally:
        tape.close()


def test_ls_takes_the_same_filters(demo, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    tape, ids = demo
    path = str(tape.path)
    assert main(["ls", "--path", path, "--tool", "lookup_order", "--errors"]) == 0
    out = capsys.readouterr().out
    assert ids[2] in out and ids[1] not in out and ids[0] not in out
    assert main(["ls", "--path", path, "--search", "shipping", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert ids[0] in out and ids[2] not in out
    assert main(["ls", "--path", path, "--model", "gpt-4o"]) == 0
    assert "no traces that match" in capsys.readouterr().out
