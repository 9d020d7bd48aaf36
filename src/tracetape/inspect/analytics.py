"""Latency, tokens and error rate by model, tool or LangGraph node, overall or over time.

Every number comes from the ``spans`` view: ``by="model"`` groups model calls (kind
``llm``) by model, ``by="tool"`` tool calls by tool name, ``by="node"`` LangGraph node
runs by node name. Latency is the span's duration; percentiles are exact
(``quantile_cont``).
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from tracetape.errors import TapeError
from tracetape.inspect.frames import age_seconds, when
from tracetape.inspect.render.plot import Plot

By = Literal["model", "tool", "node"]

_GROUPS: dict[str, tuple[str, str]] = {
    "model": ("llm", "model"),
    "tool": ("tool", "tool_name"),
    "node": ("node", "name"),
}
"""by -> (span kind, column that names the group)."""

_BUCKETS = (1, 10, 60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)
"""Bucket sizes (seconds) chosen from when none is given."""
MAX_BUCKETS = 48

_MEASURES = (
    "count(*) AS calls, "
    "count(*) FILTER (WHERE status = 'error') AS errors, "
    "count(*) FILTER (WHERE status = 'error') / count(*) AS error_rate, "
    "quantile_cont(duration_ms, 0.5) AS p50_ms, "
    "quantile_cont(duration_ms, 0.95) AS p95_ms, "
    "avg(duration_ms) AS mean_ms, "
    "max(duration_ms) AS max_ms, "
    "coalesce(sum(input_tokens), 0)::BIGINT AS input_tokens, "
    "coalesce(sum(output_tokens), 0)::BIGINT AS output_tokens, "
    "count(DISTINCT trace_id) AS traces"
)


def group(by: str) -> tuple[str, str]:
    """The span kind and the grouping column for ``by``; `TapeError` for anything else."""
    if by not in _GROUPS:
        raise TapeError(f"cannot group by {by!r}: use 'model', 'tool' or 'node'")
    return _GROUPS[by]


def _where(by: str, since: Any, until: Any, name: str | None) -> tuple[str, list[Any]]:
    kind, column = group(by)
    conditions, params = ["kind = ?", f"{column} IS NOT NULL"], [kind]
    if since is not None:
        conditions.append("start_time >= ?")
        params.append(when(since))
    if until is not None:
        conditions.append("start_time < ?")
        params.append(when(until))
    if name is not None:
        conditions.append(f"{column} = ?")
        params.append(name)
    return " AND ".join(conditions), params


def stats_sql(
    by: str, *, since: Any = None, until: Any = None, name: str | None = None
) -> tuple[str, list[Any]]:
    """One row per model/tool/node: calls, errors, latency percentiles, tokens."""
    _, column = group(by)
    where, params = _where(by, since, until, name)
    query = (
        f"SELECT {column} AS {by}, {_MEASURES} FROM spans WHERE {where} "
        f"GROUP BY {column} ORDER BY calls DESC, {by}"
    )
    return query, params


def range_sql(
    by: str, *, since: Any = None, until: Any = None, name: str | None = None
) -> tuple[str, list[Any]]:
    """First and last start (epoch microseconds) of the spans a series would cover."""
    where, params = _where(by, since, until, name)
    query = (
        "SELECT epoch_us(min(start_time)) AS first_us, epoch_us(max(start_time)) AS last_us "
        f"FROM spans WHERE {where}"
    )
    return query, params


def bucket_seconds(bucket: str | float | None, first_us: int | None, last_us: int | None) -> float:
    """``bucket`` in seconds ("5m", "1h", 60); or the smallest standard size that splits
    the range into at most `MAX_BUCKETS`."""
    if bucket is not None:
        seconds = age_seconds(bucket) if isinstance(bucket, str) else float(bucket)
        if seconds <= 0:
            raise TapeError(f"a time bucket must be positive, not {bucket!r}")
        return seconds
    span = max((last_us or 0) - (first_us or 0), 0) / 1e6
    return next((b for b in _BUCKETS if span / b <= MAX_BUCKETS), _BUCKETS[-1])


def series_sql(
    by: str,
    bucket: float,
    *,
    since: Any = None,
    until: Any = None,
    name: str | None = None,
    split: bool = True,
) -> tuple[str, list[Any]]:
    """One row per time bucket and model/tool/node (per bucket only, unless ``split``):
    the same measures as `stats_sql`. Percentiles do not add up across groups, so an
    overall series is computed over the spans, never from the groups' rows."""
    _, column = group(by)
    where, params = _where(by, since, until, name)
    width = max(int(bucket * 1e6), 1)
    key = f"{column} AS {by}, " if split else ""
    order = f", {by}" if split else ""
    query = (
        f"SELECT (epoch_us(start_time) // {width}) * {width} AS bucket_us, {key}"
        f"{_MEASURES} FROM spans WHERE {where} GROUP BY ALL ORDER BY bucket_us{order}"
    )
    return query, params


def with_bucket_times(table: pa.Table) -> pa.Table:
    """Replace ``bucket_us`` (epoch microseconds) by ``bucket``, a UTC timestamp column."""
    index = table.schema.get_field_index("bucket_us")
    stamps = pc.cast(table.column(index), pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return table.set_column(index, "bucket", stamps)


def latency_plot(series: pa.Table, by: str, name: str | None) -> Plot:
    """p50 and p95 latency per time bucket, from an unsplit `series_sql` result."""
    rows = with_bucket_times(series).to_pylist()
    what = f"{by} {name}" if name else f"{_GROUPS[by][0]} spans"
    return Plot(
        title=f"latency of {what} (p50, p95)",
        unit="ms",
        times=[row["bucket"] for row in rows],
        series={
            "p50": [row["p50_ms"] for row in rows],
            "p95": [row["p95_ms"] for row in rows],
        },
    )


def tokens_plot(stats: pa.Table) -> Plot:
    """Input and output tokens per model, from a ``by="model"`` `stats_sql` result."""
    rows = stats.to_pylist()
    return Plot(
        title="tokens per model",
        unit="tokens",
        labels=[str(row["model"]) for row in rows],
        series={
            "input": [float(row["input_tokens"]) for row in rows],
            "output": [float(row["output_tokens"]) for row in rows],
        },
    )
