"""Compare two traces step by step: align their steps, compare each pair, locate what
differs (which trace, which aligned position) so effects can be attributed to causes.

A prompt whose template was edited renders differently; where it rendered the same
variables' values (`compare.rendering_implied`) that difference is implied by the edit
and goes to ``Found.implied``, to be counted on the edit rather than listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypeVar

from tracetape.diff import compare
from tracetape.diff.align import align
from tracetape.diff.causes import PromptChange
from tracetape.diff.changes import Change, Location, Metric, MetricChange
from tracetape.diff.effects import ErrorChange, OutputChange, StepChange
from tracetape.diff.steps import CONTAINER_KINDS, Step, TraceSteps, output_text
from tracetape.spans import kinds

C = TypeVar("C", bound=Change)

FINAL = 1 << 30
"""The position of a trace's final output and status: after every step."""


@dataclass(frozen=True)
class Located:
    """A change and where it was found: the aligned trace and step position (``trace``
    None: the run as a whole)."""

    change: Change
    trace: int | None
    position: int
    within: frozenset[int] = frozenset()
    """Positions of the steps that ran inside this one (a node's model and tool calls)."""


@dataclass
class Found:
    """What comparing two sides found so far."""

    causes: list[Located] = field(default_factory=list[Located])
    effects: list[Located] = field(default_factory=list[Located])
    implied: list[Located] = field(default_factory=list[Located])
    """Effects a cause at their step implies (a template edit's renderings)."""
    metrics: list[MetricChange] = field(default_factory=list[MetricChange])


def trace_location(index: int, a: TraceSteps | None, b: TraceSteps | None) -> Location:
    """Where aligned trace pair ``index`` (from 0) is, as a whole."""
    return Location(
        pair=index + 1,
        trace_id_a=a.trace_id if a else None,
        trace_id_b=b.trace_id if b else None,
        span_id_a=a.root_span_id if a else None,
        span_id_b=b.root_span_id if b else None,
    )


def step_location(trace: Location, position: int, a: Step | None, b: Step | None) -> Location:
    """Where aligned step ``position`` (from 0) of a trace pair is."""
    step = a or b
    assert step is not None  # align never pairs two Nones
    return replace(
        trace, step=position + 1, step_kind=step.kind, step_name=step.name,
        span_id_a=a.span_id if a else None, span_id_b=b.span_id if b else None,
    )  # fmt: skip


def placed(change: C, where: Location) -> C:
    """``change`` with its location."""
    return replace(change, location=where)


def _label(prefix: str, position: int, a: Step | None, b: Step | None) -> str:
    step = a or b
    assert step is not None  # align never pairs two Nones
    name = step.name if a is None or b is None or a.name == b.name else f"{a.name} → {b.name}"
    return f"{prefix}#{position + 1} {step.kind} {name}"


_NONE: frozenset[int] = frozenset()


def _inside(
    aligned: list[tuple[Step | None, Step | None]], by_id: dict[str, Step]
) -> dict[str, frozenset[int]]:
    """Span id of each container step -> the aligned positions of the steps inside it."""
    found: dict[str, set[int]] = {}
    for position, pair in enumerate(aligned):
        for step in pair:
            container = step.container if step is not None else None
            for _ in range(256):  # bounded, as a parent chain with a cycle would not be
                if container is None:
                    break
                found.setdefault(container, set()).add(position)
                container = by_id[container].container if container in by_id else None
    return {span_id: frozenset(positions) for span_id, positions in found.items()}


def _with_ancestors(step: Step, by_id: dict[str, Step], into: set[str]) -> None:
    container = step.container
    while container is not None and container not in into:
        into.add(container)
        container = by_id[container].container if container in by_id else None


def _implied(effect: Change, causes: list[Change], x: Step, y: Step) -> bool:
    """A prompt's other rendering under its own template edit, same variables' values."""
    return (
        isinstance(effect, OutputChange)
        and x.kind == kinds.PROMPT
        and any(isinstance(c, PromptChange) for c in causes)
        and compare.rendering_implied(x, y)
    )


def compare_traces(a: TraceSteps, b: TraceSteps, index: int, prefix: str, found: Found) -> None:
    """Add what differs between traces ``a`` and ``b`` (aligned as number ``index``;
    ``prefix`` starts their step labels) to ``found``.

    A node's (agent's, workflow step's) other output is left out when a step inside it
    already shows a change: it would repeat the model's or tool's output in its state.
    """
    by_id = {s.span_id: s for s in (*a.steps, *b.steps)}
    changed_inside: set[str] = set()
    effects: list[Located] = []
    containers: list[tuple[Located, Step, Step]] = []
    pair = trace_location(index, a, b)
    aligned = list(align(a.steps, b.steps, lambda s: s.signature))
    inside = _inside(aligned, by_id)
    for position, (x, y) in enumerate(aligned):
        label = _label(prefix, position, x, y)
        where = step_location(pair, position, x, y)
        if x is None or y is None:
            present = x or y
            assert present is not None  # align never pairs two Nones
            only = StepChange(step=label, only_in="a" if y is None else "b", location=where)
            effects.append(Located(only, index, position, inside.get(present.span_id, _NONE)))
            _with_ancestors(present, by_id, changed_inside)
            continue
        causes = [placed(c, where) for c in compare.step_causes(x, y)]
        found.causes.extend(Located(c, index, position) for c in causes)
        for effect in (placed(e, where) for e in compare.step_effects(x, y, label)):
            if _implied(effect, causes, x, y):
                found.implied.append(Located(effect, index, position))
                continue
            within = inside.get(x.span_id, _NONE) | inside.get(y.span_id, _NONE)
            if isinstance(effect, OutputChange) and x.kind in CONTAINER_KINDS:
                containers.append((Located(effect, index, position, within), x, y))
                continue
            effects.append(Located(effect, index, position, within))
            _with_ancestors(x, by_id, changed_inside)
            _with_ancestors(y, by_id, changed_inside)
        found.metrics.extend(placed(m, where) for m in compare.step_metrics(x, y, label))
    effects.extend(
        found_at
        for found_at, x, y in containers
        if x.span_id not in changed_inside and y.span_id not in changed_inside
    )
    found.effects.extend(sorted(effects, key=lambda e: e.position))
    name = prefix + (a.name if a.name == b.name else f"{a.name} → {b.name}")
    text_a, text_b = output_text(a.output), output_text(b.output)
    if text_a != text_b:
        final = OutputChange(step=name, text_a=text_a, text_b=text_b, final=True, location=pair)
        found.effects.append(Located(final, index, FINAL))
    if a.error != b.error:
        error = ErrorChange(step=name, error_a=a.error, error_b=b.error, location=pair)
        found.effects.append(Located(error, index, FINAL))
    if a.duration_ms != b.duration_ms:
        duration = MetricChange(
            step=name, metric="duration_ms", value_a=a.duration_ms, value_b=b.duration_ms
        )
        found.metrics.append(placed(duration, pair))


def totals(a: list[TraceSteps], b: list[TraceSteps]) -> list[MetricChange]:
    """Steps, errors and tokens over all traces of each side, those that differ."""

    def sums(side: list[TraceSteps]) -> dict[Metric, float]:
        steps = [s for t in side for s in t.steps]
        return {
            "steps": float(len(steps)),
            "errors": float(sum(s.error is not None for s in steps)),
            "input_tokens": float(sum(s.input_tokens or 0 for s in steps if s.kind == "llm")),
            "output_tokens": float(sum(s.output_tokens or 0 for s in steps if s.kind == "llm")),
        }

    sa, sb = sums(a), sums(b)
    return [
        MetricChange(step="total", metric=metric, value_a=sa[metric], value_b=sb[metric])
        for metric in sa
        if sa[metric] != sb[metric]
    ]
