"""The typed changes a `Diff` holds: causes, effects, declared params and timings.

Every change is a frozen dataclass with a ``kind`` and a ``category``:

- ``cause`` (`tracetape.diff.causes`): set up differently before the agent ran — the environment
  (`PackageChange`, `EnvironmentChange`), a prompt template (`PromptChange`), a model's
  identity or params (`ModelChange`), a retriever's configuration (`RetrieverChange`);
- ``effect`` (`tracetape.diff.effects`): came out differently — retrieved documents
  (`DocumentsChange`), tool arguments (`ToolArgsChange`), outputs (`OutputChange`), steps
  only one side took (`StepChange`, `TraceChange`), errors (`ErrorChange`);
- ``declared``: a run param the user gave (`ParamChange`): a name for a knob, not proof
  of what it changed, so never a cause;
- ``context``: what differs but changes nothing the agent does by itself (`ContextChange`:
  the interpreter's path, the git branch name): shown apart, never a cause, never part of
  ``Diff.is_empty``;
- ``metric``: latency and tokens (`MetricChange`): never a cause, never part of
  ``Diff.is_empty``.

Every change carries a `Location`: which aligned trace pair and step it was found in, with
the trace and span ids of both sides, so a change can be looked up without reading its
label. This module holds the base classes, `Location`, the declared, context and metric
changes and `Group`.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Category = Literal["cause", "effect", "declared", "context", "metric"]
Side = Literal["a", "b"]


def shown(value: Any) -> str:
    """A value in one line: strings as they are, None as "—", the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def unified(before: str, after: str, *, context: int = 2) -> str:
    """A unified text diff of two texts (``difflib.unified_diff``), without the header."""
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "a", "b", n=context, lineterm=""
    )
    return "\n".join(list(lines)[2:])


@dataclass(frozen=True)
class FieldChange:
    """One field that differs: ``field`` (dotted), its value in A and in B (None: absent)."""

    field: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.field}: {shown(self.before)} → {shown(self.after)}"


@dataclass(frozen=True, kw_only=True)
class Location:
    """Where a change was found. Empty for the environment, declared params and totals.

    ``pair`` numbers the aligned trace pairs from 1 in side A's order (``t1`` in labels;
    1 in a diff of two traces); ``step`` the aligned steps of that pair from 1 (``#1``).
    A trace's final output and status have a pair and no step; a run's status neither.
    Ids are None on a side that lacks the trace or step.
    """

    pair: int | None = None
    trace_id_a: str | None = None
    trace_id_b: str | None = None
    step: int | None = None
    step_kind: str | None = None
    step_name: str | None = None
    """The step's name on side A (on side B where only B took it)."""
    span_id_a: str | None = None
    span_id_b: str | None = None


NOWHERE = Location()


@dataclass(frozen=True, kw_only=True)
class Change:
    """Base of every change: ``kind`` names the type, ``category`` its section,
    ``location`` where it was found (left out of equality: the same change found in
    two places is the same change)."""

    kind: str
    category: ClassVar[Category]
    location: Location = field(default=NOWHERE, compare=False)

    @property
    def subject(self) -> str:
        """What changed, in a few words (a package, a step, a model)."""
        raise NotImplementedError

    @property
    def before(self) -> str:
        """Side A in one line."""
        raise NotImplementedError

    @property
    def after(self) -> str:
        """Side B in one line."""
        raise NotImplementedError

    @property
    def detail(self) -> str:
        """Further lines (a text diff, field changes); empty when the line says it all."""
        return ""

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: {self.before} → {self.after}"


@dataclass(frozen=True, kw_only=True)
class FieldsChange(Change):
    """A change made of `FieldChange` rows (a model, a retriever)."""

    fields: tuple[FieldChange, ...] = ()

    @property
    def before(self) -> str:
        return ", ".join(f"{f.field}={shown(f.before)}" for f in self.fields)

    @property
    def after(self) -> str:
        return ", ".join(f"{f.field}={shown(f.after)}" for f in self.fields)

    @property
    def detail(self) -> str:
        return "\n".join(str(f) for f in self.fields)


# -- declared and metrics -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ValueChange(Change):
    """A named value that differs: ``value_a`` and ``value_b``, shown as before/after."""

    value_a: Any
    value_b: Any

    @property
    def before(self) -> str:
        return shown(self.value_a)

    @property
    def after(self) -> str:
        return shown(self.value_b)


@dataclass(frozen=True, kw_only=True)
class ParamChange(ValueChange):
    """A param given to ``tape.run(params=...)`` differs."""

    kind: Literal["param"] = "param"
    category: ClassVar[Category] = "declared"
    key: str

    @property
    def subject(self) -> str:
        return self.key


@dataclass(frozen=True, kw_only=True)
class ContextChange(ValueChange):
    """A field of the environment snapshot that differs without being a cause: the
    interpreter's path (the same Python and packages in another virtualenv), the git
    branch's name (the commit says what code ran)."""

    kind: Literal["context"] = "context"
    category: ClassVar[Category] = "context"
    field: str

    @property
    def subject(self) -> str:
        return self.field


Metric = Literal["duration_ms", "input_tokens", "output_tokens", "errors", "steps"]


@dataclass(frozen=True, kw_only=True)
class MetricChange(Change):
    """Latency, tokens, errors or step count of one step (``step``) or in total."""

    kind: Literal["metric"] = "metric"
    category: ClassVar[Category] = "metric"
    step: str
    """A step's label, or ``"total"``."""
    metric: Metric
    value_a: float | None
    value_b: float | None

    @property
    def delta(self) -> float | None:
        if self.value_a is None or self.value_b is None:
            return None
        return self.value_b - self.value_a

    @property
    def subject(self) -> str:
        return f"{self.step} {self.metric}"

    @property
    def before(self) -> str:
        return _number(self.value_a)

    @property
    def after(self) -> str:
        return _number(self.value_b)


@dataclass(frozen=True)
class Group:
    """Causes and the effects attributed to them (see `tracetape.diff.attribution`).

    ``causes`` is empty for effects no recorded cause explains (a model that answered
    differently to the same request, a tool whose world changed).
    """

    causes: tuple[Change, ...]
    effects: tuple[Change, ...] = field(default=())
    implied: tuple[Change, ...] = field(default=())
    """Effects the causes imply, counted on them and not listed among ``effects``: the
    rendered prompts a template edit changed with the same variables' values."""

    @property
    def label(self) -> str:
        if not self.causes:
            return "unexplained"
        return "; ".join(f"{c.kind} {c.subject}" for c in self.causes)


def one_line(text: str, limit: int = 120) -> str:
    """``text`` on one line (line breaks shown as ⏎), cut at ``limit`` characters."""
    flat = " ⏎ ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value != int(value) else str(int(value))
