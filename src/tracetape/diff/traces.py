"""Compare two traces step by step: align their steps, compare each pair, locate what
differs (which trace, which aligned position) so effects can be attributed to causes."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracetape.diff import compare
from tracetape.diff.align import align
from tracetape.diff.changes import (
    Change,
    Metric,
    MetricChange,
)
from tracetape.diff.effects import (
    ErrorChange,
    OutputChange,
    StepChange,
)
from tracetape.diff.steps import Step, TraceSteps, output_text

FINAL = 1 << 30
"""The position of a trace's final output and status: after every step."""


@dataclass(frozen=True)
class Located:
    """A change and where it was found: the aligned trace and step position (``trace``
    None: the run as a whole)."""

    change: Change
    trace: int | None
    position: int


@dataclass
class Found:
    """What comparing two sides found so far."""

    causes: list[Located] = field(default_factory=list[Located])
    effects: list[Located] = field(default_factory=list[Located])
    metrics: list[MetricChange] = field(default_factory=list[MetricChange])


def _label(prefix: str, position: int, a: Step | None, b: Step | None) -> str:
    step = a or b
    assert step is not None  # align never pairs two Nones
    name = step.name if a is None or b is None or a.name == b.name else f"{a.name} → {b.name}"
    return f"{prefix}#{position + 1} {step.kind} {name}"


def compare_traces(a: TraceSteps, b: TraceSteps, index: int, prefix: str, found: Found) -> None:
    """Add what differs between traces ``a`` and ``b`` (aligned as number ``index``;
    ``prefix`` starts their step labels) to ``found``."""
    for position, (x, y) in enumerate(align(a.steps, b.steps, lambda s: s.signature)):
        label = _label(prefix, position, x, y)
        if x is None or y is None:
            only = StepChange(step=label, only_in="a" if y is None else "b")
            found.effects.append(Located(only, index, position))
            continue
        found.causes.extend(Located(c, index, position) for c in compare.step_causes(x, y))
        found.effects.extend(Located(e, index, position) for e in compare.step_effects(x, y, label))
        found.metrics.extend(compare.step_metrics(x, y, label))
    name = prefix + (a.name if a.name == b.name else f"{a.name} → {b.name}")
    text_a, text_b = output_text(a.output), output_text(b.output)
    if text_a != text_b:
        final = OutputChange(step=name, text_a=text_a, text_b=text_b, final=True)
        found.effects.append(Located(final, index, FINAL))
    if a.error != b.error:
        error = ErrorChange(step=name, error_a=a.error, error_b=b.error)
        found.effects.append(Located(error, index, FINAL))
    if a.duration_ms != b.duration_ms:
        found.metrics.append(
            MetricChange(
                step=name, metric="duration_ms", value_a=a.duration_ms, value_b=b.duration_ms
            )
        )


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
