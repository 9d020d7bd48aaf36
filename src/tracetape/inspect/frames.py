"""The traces listing as SQL: filters, the newest-first page, and output formats.

Listing is two queries on one connection. The first picks the page: the ids of the
newest traces that pass the filters, aggregating only what the filters need. The second
reads the ``traces`` view for exactly those ids (as constants, so DuckDB pushes them into
the scans) plus a short input and output of each trace's root span, reading only spans
that started no earlier than the oldest trace on the page (the tables are in time order,
so DuckDB skips the rest). On a million spans that is tens of milliseconds where the
whole view costs hundreds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Literal

import pyarrow as pa

from tracetape.errors import IntegrationMissingError, TapeError

Format = Literal["pandas", "arrow", "polars"]
"""What listing and SQL calls return: a pandas or polars DataFrame, or a pyarrow Table."""

SHORT_CHARS = 200
"""Inputs and outputs in the listing are cut to this many characters, then marked."""
CUT_MARK = "…"

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def age_seconds(text: str) -> float:
    """ "45s", "30m", "1h", "7d", "2w" in seconds; `TapeError` for anything else."""
    match = _AGO.match(text)
    if not match:
        raise TapeError(f"cannot read {text!r} as a duration: give e.g. '45s', '30m', '1h', '7d'")
    return float(match.group(1)) * _UNITS[match.group(2)]


def when(value: str | dt.datetime | dt.date | None, *, now: dt.datetime | None = None) -> Any:
    """A time bound: a datetime (naive means UTC), an ISO string, or "30m"/"1h"/"7d" ago.

    Example:
        >>> when("1h")  # an hour ago, in UTC
    """
    if value is None:
        return None
    if isinstance(value, str):
        if _AGO.match(value):
            return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=age_seconds(value))
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise TapeError(
                f"cannot read {value!r} as a time: give a datetime, an ISO time "
                "('2026-05-01T12:00') or an age ('45s', '30m', '1h', '7d', '2w')"
            ) from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class TraceFilter:
    """Which traces a listing shows; every field is optional and they combine (AND).

    ``model``, ``tool``, ``node``, ``tag`` and ``search`` match when any span of the
    trace does; ``since``/``until`` bound the trace's start; ``name`` is the trace's.
    """

    since: str | dt.datetime | dt.date | None = None
    until: str | dt.datetime | dt.date | None = None
    name: str | None = None
    errors_only: bool = False
    model: str | None = None
    tool: str | None = None
    node: str | None = None
    run: str | None = None
    tag: str | None = None
    search: str | None = None

    def having(self) -> tuple[list[str], list[Any]]:
        """Conditions on ``spans GROUP BY trace_id`` and their parameters."""
        conditions: list[str] = []
        params: list[Any] = []

        def add(condition: str, *values: Any) -> None:
            conditions.append(condition)
            params.extend(values)

        if self.since is not None:
            add("min(start_time) >= ?", when(self.since))
        if self.until is not None:
            add("min(start_time) < ?", when(self.until))
        if self.name is not None:
            add("arg_min(name, start_time) = ?", self.name)
        if self.errors_only:
            add("bool_or(status = 'error')")
        if self.model is not None:
            add("bool_or(model = ?)", self.model)
        if self.tool is not None:
            add("bool_or(kind = 'tool' AND tool_name = ?)", self.tool)
        if self.node is not None:
            add("bool_or(kind = 'node' AND name = ?)", self.node)
        if self.run is not None:
            add("bool_or(run_id = ?)", self.run)
        if self.tag is not None:
            add("bool_or(list_contains(tags, ?))", self.tag)
        if self.search:
            needle = self.search.lower()
            add(
                "bool_or(contains(lower(input::VARCHAR), ?) "
                "OR contains(lower(output::VARCHAR), ?))",
                needle,
                needle,
            )
        return conditions, params


def page_sql(flt: TraceFilter, limit: int) -> tuple[str, list[Any]]:
    """The first query: ids and start times of the newest traces that pass ``flt``."""
    conditions, params = flt.having()
    having = f"HAVING {' AND '.join(conditions)} " if conditions else ""
    query = (
        "SELECT trace_id, min(start_time) AS start_time FROM spans GROUP BY trace_id "
        f"{having}ORDER BY start_time DESC, trace_id LIMIT ?"
    )
    return query, [*params, max(int(limit), 0)]


def _short(column: str) -> str:
    text = f"arg_min({column}::VARCHAR, start_time) FILTER (WHERE parent_span_id IS NULL)"
    return (
        f"CASE WHEN length({text}) > {SHORT_CHARS} "
        f"THEN left({text}, {SHORT_CHARS - 1}) || '{CUT_MARK}' ELSE {text} END AS {column}"
    )


def rows_sql(page: pa.Table) -> tuple[str, list[Any]]:
    """The second query: the ``traces`` view's rows for ``page`` with short input/output."""
    ids = [str(x) for x in page.column("trace_id").to_pylist()]
    if not ids:
        # Same columns, no rows; `IN ()` is not SQL.
        return "SELECT *, NULL::VARCHAR AS input, NULL::VARCHAR AS output FROM traces LIMIT 0", []
    marks = ", ".join("?" for _ in ids)
    oldest = min(page.column("start_time").to_pylist())
    query = (
        "SELECT t.*, io.input, io.output "
        f"FROM (SELECT * FROM traces WHERE trace_id IN ({marks})) t "
        f"LEFT JOIN (SELECT trace_id, {_short('input')}, {_short('output')} FROM spans "
        f"WHERE start_time >= ? AND trace_id IN ({marks}) GROUP BY trace_id) io "
        "USING (trace_id) "
        "ORDER BY t.start_time DESC, t.trace_id"
    )
    return query, [*ids, oldest, *ids]


def convert(table: pa.Table, fmt: Format) -> Any:
    """``table`` as the ``fmt`` asked for (pandas by default; polars if installed)."""
    if fmt == "arrow":
        return table
    if fmt == "polars":
        try:
            import polars as pl
        except ImportError as exc:
            raise IntegrationMissingError('format="polars" needs: pip install polars') from exc
        return pl.from_arrow(table)
    if fmt == "pandas":
        return table.to_pandas()
    raise TapeError(f"unknown format {fmt!r}: use 'pandas', 'arrow' or 'polars'")
