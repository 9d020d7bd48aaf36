"""The traces listing and SQL results as tables; the read-only `TapeReader`."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tracetape.errors import TapeError
from tracetape.inspect.reader import TapeReader
from tracetape.inspect.render.tables import frame_table, traces_table
from tracetape.inspect.render.text import to_plain


def _traces() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "trace_id": "a" * 32,
                "name": "agent",
                "start_time": pd.Timestamp("2025-03-01 12:00:05", tz="UTC"),
                "duration_ms": 42.0,
                "status": "error",
                "n_errors": 2,
                "n_llm": 3,
                "n_tool": 1,
                "input_tokens": 100,
                "output_tokens": 7,
                "models": ["m-1", "m-2"],
            }
        ]
    )


def test_traces_table():
    text = to_plain(traces_table(_traces(), title="t"), width=160)
    assert "a" * 32 in text
    for cell in ("agent", "03-01 12:00:05", "42.0 ms", "error x2", "3/1", "100→7", "m-1", "m-2"):
        assert cell in text, cell


def test_compact_traces_table_keeps_the_id():
    text = to_plain(traces_table(_traces(), compact=True), width=80)
    assert "a" * 32 in text and "100→7" in text and "agent" not in text


def test_frame_table_cells():
    frame = pd.DataFrame(
        {"n": [1, 2], "x": [1.5, math.nan], "s": ["y" * 50, None], "l": [["a"], ["b", "c"]]}
    )
    text = to_plain(frame_table(frame, max_chars=10), width=160)
    assert "1.5" in text and "NULL" in text and "yyyyyyyyyy… [+40 chars]" in text
    assert '["b", "c"]' in text and "2 rows" in text


def test_reader_refuses_a_missing_tape_without_creating_it(tmp_path):
    path = tmp_path / "no" / "tape.duckdb"
    with pytest.raises(TapeError, match="no tape at"):
        TapeReader(path).traces()
    assert not path.parent.exists()


def test_cells_are_data_not_markup():
    frame = pd.DataFrame({"k": ["[bold]x[/bold] [a, b]"]})
    assert "[bold]x[/bold] [a, b]" in to_plain(frame_table(frame), width=80)
    traces = _traces()
    traces.loc[0, "name"] = "[red]agent[/red]"
    assert "[red]agent[/red]" in to_plain(traces_table(traces, title="[x]"), width=200)
