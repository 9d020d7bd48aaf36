"""Read one side of a diff — a trace, a run or an environment — from the public views.

Ids tell what they are: ``run-...`` a run, ``env-...`` an environment, 32 hex
characters a trace (a shorter hex prefix of one is looked up), 16 a span (refused with
its trace's id: diff compares traces, runs or environments).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tracetape.diff.steps import SPAN_COLUMNS, TraceSteps, trace_steps
from tracetape.errors import DiffError, NotFoundError
from tracetape.store.access import Query, Scope

What = Literal["trace", "run", "environment"]
_HEX = re.compile(r"^[0-9a-f]+$")
_TRACE_CHARS, _SPAN_CHARS = 32, 16


@dataclass(frozen=True)
class Side:
    """One side of a diff, read: its traces (in start order), environment and params."""

    id: str
    what: What
    traces: tuple[TraceSteps, ...] = ()
    environment_id: str | None = None
    snapshot: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict[str, Any])
    name: str | None = None
    error: str | None = None
    """The run's error type when it failed."""
    duration_ms: float | None = None


def _rows(
    query: Query, sql: str, params: Sequence[Any], scope: Scope | None = None
) -> list[dict[str, Any]]:
    return query(sql, params, scope=scope).to_pylist()


def id_of(value: object) -> str:
    """An id given as text, or the id of a `Run`, `Trace` or span object."""
    if isinstance(value, str):
        return value
    for attribute in ("run_id", "trace_id", "environment_id"):
        found = getattr(value, attribute, None)
        if isinstance(found, str):
            return found
    raise DiffError(f"{value!r} is neither an id nor a run or trace")


def kind_of(query: Query, text: str) -> tuple[What, str]:
    """What ``text`` names and its whole id (a trace prefix resolved)."""
    key = text.strip().lower()
    if key.startswith("run-"):
        return "run", key
    if key.startswith("env-"):
        return "environment", key
    if not _HEX.match(key):
        raise DiffError(f"{text!r} is not a trace, run (run-...) or environment (env-...) id")
    if len(key) == _SPAN_CHARS:
        found = _rows(query, "SELECT trace_id FROM spans WHERE span_id = ? LIMIT 1", [key])
        if found:
            raise DiffError(
                f"{text!r} is a span id; diff compares traces, runs or environments "
                f"(its trace is {found[0]['trace_id']})"
            )
    if len(key) == _TRACE_CHARS:
        return "trace", key
    ids = _rows(
        query,
        "SELECT DISTINCT trace_id FROM spans WHERE starts_with(trace_id, ?) LIMIT 2",
        [key],
    )
    if len(ids) != 1:
        raise NotFoundError(f"no trace {text!r}" if not ids else f"{text!r} matches several traces")
    return "trace", str(ids[0]["trace_id"])


def _snapshot(query: Query, environment_id: str | None) -> dict[str, Any] | None:
    if environment_id is None:
        return None
    rows = _rows(
        query,
        "SELECT snapshot::VARCHAR AS snapshot FROM environments WHERE environment_id = ?",
        [environment_id],
    )
    if not rows or rows[0]["snapshot"] is None:
        return None
    snapshot: dict[str, Any] = json.loads(rows[0]["snapshot"])
    return snapshot


def _traces(
    query: Query, where: str, value: str, scope: Scope | None = None
) -> tuple[TraceSteps, ...]:
    """Every trace matching ``where`` (SQL over ``spans`` with one parameter)."""
    sql = (
        f"SELECT trace_id, {SPAN_COLUMNS} FROM spans WHERE trace_id IN "
        f"(SELECT trace_id FROM spans {where}) ORDER BY start_time, span_id"
    )
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(query, sql, [value], scope):
        by_trace.setdefault(row.pop("trace_id"), []).append(row)
    return tuple(trace_steps(trace_id, "", rows) for trace_id, rows in by_trace.items())


def read_environment(query: Query, environment_id: str) -> Side:
    snapshot = _snapshot(query, environment_id)
    if snapshot is None:
        raise NotFoundError(f"no environment {environment_id!r}")
    return Side(environment_id, "environment", environment_id=environment_id, snapshot=snapshot)


def read_trace(query: Query, trace_id: str) -> Side:
    traces = _traces(query, "WHERE trace_id = ?", trace_id, Scope(traces=frozenset([trace_id])))
    if not traces:
        raise NotFoundError(f"no trace {trace_id!r}")
    env = traces[0].environment_id
    return Side(
        trace_id, "trace", traces, env, _snapshot(query, env), name=traces[0].name,
        error=traces[0].error, duration_ms=traces[0].duration_ms,
    )  # fmt: skip


def read_run(query: Query, run_id: str) -> Side:
    rows = _rows(
        query,
        "SELECT name, status, error_type, params::VARCHAR AS params, environment_id, "
        "duration_ms FROM runs WHERE run_id = ?",
        [run_id],
    )
    if not rows:
        raise NotFoundError(f"no run {run_id!r}")
    run = rows[0]
    traces = _traces(query, "WHERE run_id = ?", run_id)
    env = run["environment_id"] or (traces[0].environment_id if traces else None)
    params: Any = json.loads(run["params"]) if run["params"] else {}
    error = run["error_type"] or ("failed" if run["status"] == "failed" else None)
    return Side(
        run_id, "run", traces, env, _snapshot(query, env),
        params=params if isinstance(params, dict) else {"params": params}, name=run["name"],
        error=error, duration_ms=run["duration_ms"],
    )  # fmt: skip


def read(query: Query, text: str) -> Side:
    """The trace, run or environment ``text`` names; raises `NotFoundError` if absent."""
    what, key = kind_of(query, text)
    if what == "run":
        return read_run(query, key)
    if what == "environment":
        return read_environment(query, key)
    return read_trace(query, key)


def read_pair(query: Query, a: object, b: object) -> tuple[Side, Side]:
    """Both sides (ids, or runs and traces), checked to be of one kind (`DiffError`
    otherwise)."""
    a, b = id_of(a), id_of(b)
    kind_a, _ = kind_of(query, a)
    kind_b, _ = kind_of(query, b)
    if kind_a != kind_b:
        raise DiffError(
            f"cannot diff a {kind_a} ({a}) with a {kind_b} ({b}): "
            "give two traces, two runs or two environments"
        )
    return read(query, a), read(query, b)


def environment_of(query: Query, text: str) -> str:
    """The environment id ``text`` names: itself (``env-...``), or that of a run, a
    trace (or a unique prefix of one) or a span."""
    key = text.strip().lower()
    if key.startswith("env-"):
        return key
    if key.startswith("run-"):
        rows = _rows(query, "SELECT environment_id FROM runs WHERE run_id = ?", [key])
    elif _HEX.match(key) and len(key) == _SPAN_CHARS:
        rows = _rows(query, "SELECT environment_id FROM spans WHERE span_id = ? LIMIT 1", [key])
        if not rows:  # or a trace prefix of 16 characters
            rows = _rows(query, _TRACE_ENV, [key])
    elif _HEX.match(key):
        rows = _rows(query, _TRACE_ENV, [key])
    else:
        raise DiffError(f"{text!r} is not an environment, run, trace or span id")
    found = [r["environment_id"] for r in rows if r["environment_id"]]
    if not found:
        raise NotFoundError(f"no environment recorded for {text!r}")
    return str(found[0])


_TRACE_ENV = (
    "SELECT DISTINCT environment_id FROM spans WHERE starts_with(trace_id, ?) "
    "AND environment_id IS NOT NULL LIMIT 1"
)
