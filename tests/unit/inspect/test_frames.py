"""Listing SQL, time bounds and plots, without a tape."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tracetape.errors import TapeError
from tracetape.inspect import analytics
from tracetape.inspect.frames import TraceFilter, age_seconds, page_sql, rows_sql, when
from tracetape.inspect.render.plot import Plot

NOW = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", NOW - dt.timedelta(seconds=90)),
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("1.5h", NOW - dt.timedelta(minutes=90)),
        ("7d", NOW - dt.timedelta(days=7)),
        ("2w", NOW - dt.timedelta(days=14)),
        ("2026-04-30T08:00", dt.datetime(2026, 4, 30, 8, tzinfo=dt.UTC)),
        ("2026-04-30T08:00+02:00", dt.datetime(2026, 4, 30, 6, tzinfo=dt.UTC)),
        (dt.date(2026, 4, 1), dt.datetime(2026, 4, 1, tzinfo=dt.UTC)),
        (dt.datetime(2026, 4, 1, 3), dt.datetime(2026, 4, 1, 3, tzinfo=dt.UTC)),
        (None, None),
    ],
)
def test_time_bounds(value, expected):
    assert when(value, now=NOW) == expected


def test_bad_times_and_durations_are_clear_errors():
    with pytest.raises(TapeError, match="as a time"):
        when("last tuesday", now=NOW)
    with pytest.raises(TapeError, match="as a duration"):
        age_seconds("soon")


def test_filter_values_are_parameters_never_sql_text():
    hostile = "x'); DROP TABLE _spans; --"
    flt = TraceFilter(
        name=hostile, model=hostile, tool=hostile, node=hostile, run=hostile, tag=hostile,
        search=hostile, since="1h", errors_only=True,
    )  # fmt: skip
    query, params = page_sql(flt, 10)
    assert hostile not in query and "DROP" not in query
    assert params.count(hostile) == 6 and params.count(hostile.lower()) == 2
    assert params[-1] == 10
    assert "status = 'error'" in query


def test_an_empty_page_reads_no_rows():
    query, params = rows_sql(pa.table({"trace_id": pa.array([], pa.string())}))
    assert query.endswith("LIMIT 0") and params == []


def test_bucket_sizes_fit_the_range():
    hour = 3600 * 1_000_000
    assert analytics.bucket_seconds(None, 0, 24 * hour) == 3600
    assert analytics.bucket_seconds(None, 0, 10 * 1_000_000) == 1
    assert analytics.bucket_seconds("5m", None, None) == 300
    with pytest.raises(TapeError, match="positive"):
        analytics.bucket_seconds(0, None, None)


def test_a_plot_without_data_still_draws_and_says_so():
    plot = Plot(title="latency", unit="ms", series={"p50": [], "p95": []}, times=[])
    assert plot.to_svg().startswith("<svg") and plot.to_svg().endswith("</svg>")
    assert "(no data)" in str(plot)


def test_plot_text_escapes_into_svg():
    plot = Plot(title="<b>&", unit="ms", series={"a<": [1.0, None]}, labels=["x>", "y"])
    svg = plot.to_svg()
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg and "x&gt;" in svg
