"""Build a `Diff` from two sides: environment, traces aligned, steps compared,
effects attributed to causes."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa

from tracetape.diff.align import align
from tracetape.diff.attribution import attribute
from tracetape.diff.causes import EnvironmentChange
from tracetape.diff.changes import Change, ContextChange, MetricChange, ParamChange
from tracetape.diff.effects import ErrorChange, TraceChange
from tracetape.diff.environment import context_changes, environment_changes, flatten
from tracetape.diff.pairs import TracePair
from tracetape.diff.result import Diff
from tracetape.diff.sides import Query, Side, read_pair
from tracetape.diff.steps import TraceSteps
from tracetape.diff.traces import FINAL, Found, Located, compare_traces, totals, trace_location
from tracetape.store.access import Scope


@dataclass(frozen=True)
class Source:
    """What a diff needs from its tape (given by `Tape`, the composition root)."""

    query: Callable[[str, Sequence[Any]], pa.Table]
    """SQL over the public views, returning a pyarrow Table."""
    flush: Callable[[], object] = lambda: None
    """Makes what was recorded so far visible (a tape's ``flush``)."""
    scoped: bool = False
    """Whether ``query`` also takes ``scope=`` (`TapeReader.arrow` does): a trace is
    then read without the spool segments that hold none of it."""

    def scoped_query(self) -> Query:
        """``query`` as the sides call it, with a scope (ignored unless `scoped`)."""
        if self.scoped:
            return cast(Query, self.query)
        plain = self.query

        def unscoped(query: str, params: Sequence[Any], *, scope: Scope | None = None) -> pa.Table:
            return plain(query, params)

        return unscoped


def _question(trace: TraceSteps) -> tuple[str, str]:
    return trace.name, json.dumps(trace.input, sort_keys=True, default=str)


def pair_traces(
    a: Sequence[TraceSteps], b: Sequence[TraceSteps]
) -> list[tuple[TraceSteps | None, TraceSteps | None]]:
    """The traces of two runs, paired: first those with the same name and input,
    wherever each ran (a batch runs in any order), then the rest in order by name (an
    edited question is still the same slot). In A's order; traces only B has last."""
    waiting: dict[tuple[str, str], deque[int]] = defaultdict(deque)
    for j, trace in enumerate(b):
        waiting[_question(trace)].append(j)
    matched: dict[int, int] = {}
    for i, trace in enumerate(a):
        same = waiting.get(_question(trace))
        if same:
            matched[i] = same.popleft()
    rest_a = [t for i, t in enumerate(a) if i not in matched]
    taken = set(matched.values())
    rest_b = [t for j, t in enumerate(b) if j not in taken]
    rest = align(rest_a, rest_b, lambda t: t.name, pair_replaced=True)
    order = {id(t): i for i, t in enumerate(a)}
    pairs = [(a[i], b[j]) for i, j in matched.items()] + [p for p in rest if p[0] is not None]
    pairs.sort(key=lambda p: order[id(p[0])])
    return [*pairs, *(p for p in rest if p[0] is None)]


def _environment(a: Side, b: Side) -> tuple[list[Change], list[ContextChange]]:
    """The environment's causes and its context changes."""
    if a.environment_id == b.environment_id:
        return [], []
    if a.snapshot is None or b.snapshot is None:  # ids differ, contents unknown
        only_ids = EnvironmentChange(
            field="environment_id", value_a=a.environment_id, value_b=b.environment_id
        )
        return [only_ids], []
    return environment_changes(a.snapshot, b.snapshot), context_changes(a.snapshot, b.snapshot)


def _compare_runs(a: Side, b: Side, found: Found) -> list[TracePair]:
    """Compare the sides' traces into ``found``; the trace pairs compared."""
    if a.what == "trace":
        pairs: list[tuple[TraceSteps | None, TraceSteps | None]] = [(a.traces[0], b.traces[0])]
    else:
        pairs = pair_traces(a.traces, b.traces)
    several = len(pairs) > 1
    for index, (x, y) in enumerate(pairs):
        if x is None or y is None:
            trace = x or y
            assert trace is not None  # align never pairs two Nones
            side = "a" if y is None else "b"
            where = trace_location(index, x, y)
            only = TraceChange(
                name=trace.name, trace_id=trace.trace_id, only_in=side, location=where
            )
            found.effects.append(Located(only, index, -1))
            continue
        compare_traces(x, y, index, f"t{index + 1} " if several else "", found)
    found.metrics.extend(totals(list(a.traces), list(b.traces)))
    if a.what == "run":
        if a.error != b.error:
            error = ErrorChange(step="run", error_a=a.error, error_b=b.error)
            found.effects.append(Located(error, None, FINAL))
        if a.duration_ms != b.duration_ms:
            duration = MetricChange(
                step="run", metric="duration_ms", value_a=a.duration_ms, value_b=b.duration_ms
            )
            found.metrics.append(duration)
    return [
        TracePair(index + 1, x.trace_id if x else None, y.trace_id if y else None)
        for index, (x, y) in enumerate(pairs)
    ]


def _params(a: Side, b: Side) -> tuple[ParamChange, ...]:
    params_a, params_b = flatten(a.params), flatten(b.params)
    return tuple(
        ParamChange(key=key, value_a=params_a.get(key), value_b=params_b.get(key))
        for key in sorted(set(params_a) | set(params_b))
        if params_a.get(key) != params_b.get(key)
    )


def build(a: Side, b: Side) -> Diff:
    """The `Diff` of two sides of one kind."""
    found = Found()
    pairs = _compare_runs(a, b, found) if a.what != "environment" else []
    environment, context = _environment(a, b)
    groups = attribute(environment, found.causes, found.effects, found.implied)
    return Diff(
        a=a.id, b=b.id, what=a.what, groups=groups, declared=_params(a, b),
        metrics=tuple(found.metrics), names=(a.name, b.name), context=tuple(context),
        pairs=tuple(pairs),
    )  # fmt: skip


def diff(source: Source, a: object, b: object) -> Diff:
    """Diff two traces, two runs or two environments of the tape behind ``source``: by
    id, or as the `Run` or `Trace` objects themselves.

    Raises `DiffError` for ids of different kinds, `NotFoundError` for unknown ones.
    """
    source.flush()
    side_a, side_b = read_pair(source.scoped_query(), a, b)
    return build(side_a, side_b)
