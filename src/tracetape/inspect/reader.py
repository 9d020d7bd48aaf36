"""`TapeReader`: read a tape by path without recording into it (what the CLI uses).

Unlike `tracetape.open()` it never creates a file, starts no background thread and
takes no environment snapshot. Reads go through `access.reading`: a read-only
connection kept between back-to-back queries and released after a second idle (waiting
up to ``lock_timeout`` to open while another process holds the file).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from tracetape.errors import NotFoundError, TapeError
from tracetape.inspect import analytics, frames
from tracetape.inspect.frames import TraceFilter
from tracetape.inspect.render.plot import Plot
from tracetape.inspect.span import SpanNode
from tracetape.inspect.trace import Trace
from tracetape.store import access

Params = Sequence[Any] | dict[str, Any] | None
_TRACE_ID_CHARS = 32


def _arrow(con: duckdb.DuckDBPyConnection, query: str, params: Params) -> pa.Table:
    # Through Arrow: DuckDB's own pandas path warns under pandas 3.
    relation = con.sql(query, params=params or None)
    if relation is None:  # pyright: ignore[reportUnnecessaryComparison] - DDL returns None
        return pa.table({})
    return relation.to_arrow_table()


def query_frame(path: Path, lock_timeout: float, query: str, params: Params) -> pd.DataFrame:
    """One read-only query over the public views of the tape at ``path`` as a DataFrame."""
    with access.reading(path, lock_timeout, query) as con:
        return _arrow(con, query, params).to_pandas()


class TapeReader:
    """Read-only access to the tape at ``path``.

    Example:
        >>> reader = TapeReader(Path(".tracetape/tape.duckdb"))
        >>> reader.traces(limit=5)
    """

    def __init__(self, path: Path, lock_timeout: float = 30.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"TapeReader({str(self.path)!r})"

    def _check(self) -> None:
        if not self.path.is_file():
            raise TapeError(f"no tape at {self.path} (record one first, e.g. `tracetape demo`)")

    def arrow(
        self, query: str, params: Params = None, *, scope: access.Scope | None = None
    ) -> pa.Table:
        """Run SQL over the public views; the result as a pyarrow Table. A ``scope``
        promises the query reads only those traces' and payloads' rows (faster on a
        busy spool, see `access.Scope`)."""
        self._check()
        with access.reading(self.path, self.lock_timeout, query, scope) as con:
            return _arrow(con, query, params)

    def sql(self, query: str, params: Params = None) -> pd.DataFrame:
        """Run SQL over the public views; raises `TapeError` when there is no tape."""
        return self.arrow(query, params).to_pandas()

    def traces(
        self, limit: int = 50, *, filters: TraceFilter | None = None, errors_only: bool = False
    ) -> pd.DataFrame:
        """One row per trace, newest first, filtered (see `TraceFilter`) as a DataFrame."""
        return self.traces_arrow(limit, filters=filters, errors_only=errors_only).to_pandas()

    def traces_arrow(
        self, limit: int = 50, *, filters: TraceFilter | None = None, errors_only: bool = False
    ) -> pa.Table:
        """`traces` as a pyarrow Table: the page of ids first, then their rows (`frames`)."""
        flt = filters or TraceFilter()
        if errors_only:
            flt = dataclasses.replace(flt, errors_only=True)
        self._check()
        with access.reading(self.path, self.lock_timeout) as con:
            page = _arrow(con, *frames.page_sql(flt, limit))
            return _arrow(con, *frames.rows_sql(page))

    def stats(
        self,
        by: str = "model",
        *,
        since: Any = None,
        until: Any = None,
        name: str | None = None,
        bucket: str | float | None = None,
    ) -> pa.Table:
        """Latency, tokens and errors per model/tool/node (`analytics`); per time bucket
        too when ``bucket`` is given ("auto" picks one from the range)."""
        self._check()
        window: dict[str, Any] = {"since": since, "until": until, "name": name}
        with access.reading(self.path, self.lock_timeout) as con:
            if bucket is None:
                return _arrow(con, *analytics.stats_sql(by, **window))
            width = self._bucket(con, by, window, bucket)
            series = _arrow(con, *analytics.series_sql(by, width, **window))
            return analytics.with_bucket_times(series)

    def plot(
        self,
        metric: str = "latency",
        *,
        by: str = "model",
        since: Any = None,
        until: Any = None,
        name: str | None = None,
        bucket: str | float | None = None,
    ) -> Plot:
        """``"latency"``: p50/p95 over time of one kind (or one ``name``); ``"tokens"``:
        input and output tokens per model."""
        self._check()
        window: dict[str, Any] = {"since": since, "until": until, "name": name}
        with access.reading(self.path, self.lock_timeout) as con:
            if metric == "tokens":
                return analytics.tokens_plot(_arrow(con, *analytics.stats_sql("model", **window)))
            if metric != "latency":
                raise TapeError(f"cannot plot {metric!r}: use 'latency' or 'tokens'")
            width = self._bucket(con, by, window, bucket)
            series = _arrow(con, *analytics.series_sql(by, width, split=False, **window))
            return analytics.latency_plot(series, by, name)

    @staticmethod
    def _bucket(
        con: duckdb.DuckDBPyConnection, by: str, window: dict[str, Any], bucket: str | float | None
    ) -> float:
        if bucket is not None and bucket != "auto":
            return analytics.bucket_seconds(bucket, None, None)
        row = _arrow(con, *analytics.range_sql(by, **window)).to_pylist()[0]
        return analytics.bucket_seconds(None, row["first_us"], row["last_us"])

    def resolve(self, prefix: str) -> str:
        """The one trace id starting with ``prefix`` (a full id is its own prefix)."""
        rows = self.sql(
            "SELECT DISTINCT trace_id FROM spans WHERE starts_with(trace_id, ?) LIMIT 2",
            [prefix.lower()],
        )
        ids = [str(x) for x in rows["trace_id"]]
        if not ids:
            raise NotFoundError(f"no trace {prefix!r} on {self.path}")
        if len(ids) > 1:
            raise NotFoundError(
                f"{prefix!r} matches several traces on {self.path}; give more of the id"
            )
        return ids[0]

    def trace(self, trace_id: str) -> Trace:
        """One recorded trace by its id (or a unique prefix of it)."""
        # A whole id needs no prefix lookup, which scans every trace id (~8 ms per 1M spans).
        whole = len(trace_id) == _TRACE_ID_CHARS
        full_id = self.resolve(trace_id) if trace_id and not whole else trace_id.lower()
        # Only this trace's rows: spool segments that hold none of them are not read.
        scope = access.Scope(traces=frozenset([full_id]))
        spans = self.arrow(
            "SELECT * FROM spans WHERE trace_id = ? ORDER BY start_time, span_id",
            [full_id],
            scope=scope,
        ).to_pandas()
        if spans.empty:
            raise NotFoundError(f"no trace {trace_id!r} on {self.path}")
        scores = self.arrow(
            "SELECT * FROM scores WHERE trace_id = ? ORDER BY created_at", [full_id], scope=scope
        ).to_pandas()
        return Trace(full_id, spans, scores if not scores.empty else None)

    def span(self, span_id: str) -> SpanNode:
        """One recorded span by its id, linked into its trace's tree."""
        span_id = span_id.strip().lower()
        rows = self.arrow("SELECT trace_id FROM spans WHERE span_id = ? LIMIT 1", [span_id])
        if rows.num_rows == 0:
            raise NotFoundError(f"no span {span_id!r} on {self.path}")
        return self.trace(str(rows.column(0)[0])).span(span_id)

    def runs(self, limit: int) -> pa.Table:
        """The ``runs`` view, newest first."""
        return self.arrow("SELECT * FROM runs ORDER BY start_time DESC, run_id LIMIT ?", [limit])

    def artifacts(self, run: str | None = None) -> pa.Table:
        """The ``artifacts`` view, newest first; with ``run``, those it logged and their role."""
        if run is None:
            return self.arrow("SELECT * FROM artifacts ORDER BY created_at DESC")
        return self.arrow(
            "SELECT DISTINCT a.*, l.role FROM artifacts a JOIN artifact_links l "
            "USING (artifact_id) WHERE l.run_id = ? ORDER BY a.created_at DESC",
            [run],
        )

    def environment(self, environment_id: str) -> dict[str, Any]:
        """The environment snapshot ``environment_id`` (``env-...``) as a dict."""
        rows = self.arrow(
            "SELECT snapshot::VARCHAR AS snapshot FROM environments WHERE environment_id = ?",
            [environment_id.strip()],
        ).to_pylist()
        if not rows or rows[0]["snapshot"] is None:
            raise NotFoundError(f"no environment {environment_id!r} on {self.path}")
        snapshot: dict[str, Any] = json.loads(rows[0]["snapshot"])
        return snapshot
