"""The typed changes a `Diff` holds: causes, effects, declared params and timings.

Every change is a frozen dataclass with a ``kind`` and a ``category``:

- ``cause``: something set up differently before the agent ran — the environment
  (`PackageChange`, `EnvironmentChange`), a prompt template (`PromptChange`), a model's
  identity or params (`ModelChange`), a retriever's configuration (`RetrieverChange`);
- ``effect``: something that came out differently — retrieved documents
  (`DocumentsChange`), tool arguments (`ToolArgsChange`), outputs (`OutputChange`), steps
  only one side took (`StepChange`, `TraceChange`), errors (`ErrorChange`);
- ``declared``: a run param the user gave (`ParamChange`): a name for a knob, not proof
  of what it changed, so never a cause;
- ``metric``: latency and tokens (`MetricChange`): never a cause, never part of
  ``Diff.is_empty``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Category = Literal["cause", "effect", "declared", "metric"]
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
class Change:
    """Base of every change: ``kind`` names the type, ``category`` its section."""

    kind: str
    category: ClassVar[Category]

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
class _FieldsChange(Change):
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


# -- causes -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PackageChange(Change):
    """An installed distribution added, removed or at another version."""

    kind: Literal["package"] = "package"
    category: ClassVar[Category] = "cause"
    name: str
    version_a: str | None
    version_b: str | None

    @property
    def status(self) -> Literal["added", "removed", "changed"]:
        if self.version_a is None:
            return "added"
        return "removed" if self.version_b is None else "changed"

    @property
    def subject(self) -> str:
        return self.name

    @property
    def before(self) -> str:
        return shown(self.version_a)

    @property
    def after(self) -> str:
        return shown(self.version_b)


@dataclass(frozen=True, kw_only=True)
class EnvironmentChange(Change):
    """A field of the environment snapshot: ``python.version``, ``git.commit``, ..."""

    kind: Literal["environment"] = "environment"
    category: ClassVar[Category] = "cause"
    field: str
    value_a: Any
    value_b: Any

    @property
    def subject(self) -> str:
        return self.field

    @property
    def before(self) -> str:
        return shown(self.value_a)

    @property
    def after(self) -> str:
        return shown(self.value_b)


@dataclass(frozen=True, kw_only=True)
class PromptChange(Change):
    """A prompt template's text, variables or format differ (``name``: its step name)."""

    kind: Literal["prompt"] = "prompt"
    category: ClassVar[Category] = "cause"
    name: str
    text_a: str
    text_b: str
    variables_a: tuple[str, ...] = ()
    variables_b: tuple[str, ...] = ()
    fields: tuple[FieldChange, ...] = ()
    """Other differences: template format, prompt class."""

    @property
    def subject(self) -> str:
        return self.name

    @property
    def before(self) -> str:
        return _one_line(self.text_a)

    @property
    def after(self) -> str:
        return _one_line(self.text_b)

    @property
    def text_diff(self) -> str:
        """The template texts as a unified diff."""
        return unified(self.text_a, self.text_b)

    @property
    def detail(self) -> str:
        lines = [self.text_diff] if self.text_a != self.text_b else []
        added = sorted(set(self.variables_b) - set(self.variables_a))
        removed = sorted(set(self.variables_a) - set(self.variables_b))
        if added:
            lines.append("variables added: " + ", ".join(added))
        if removed:
            lines.append("variables removed: " + ", ".join(removed))
        lines.extend(str(f) for f in self.fields)
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class ModelChange(_FieldsChange):
    """A model call's model differs: requested/responded model, class, provider, version
    signals (system fingerprint) or invocation params (``params.*``)."""

    kind: Literal["model"] = "model"
    category: ClassVar[Category] = "cause"
    name: str
    """The model of side A (its requested model, else the model class's name)."""

    @property
    def subject(self) -> str:
        return self.name


@dataclass(frozen=True, kw_only=True)
class RetrieverChange(_FieldsChange):
    """A retriever's configuration differs: class, vector store, search type, search
    kwargs (``search_kwargs.k``, filters, thresholds), embedding model."""

    kind: Literal["retriever"] = "retriever"
    category: ClassVar[Category] = "cause"
    name: str

    @property
    def subject(self) -> str:
        return self.name


# -- effects ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DocumentsChange(Change):
    """A retrieval returned other documents, or the same in another order."""

    kind: Literal["documents"] = "documents"
    category: ClassVar[Category] = "effect"
    step: str
    ids_a: tuple[str, ...]
    ids_b: tuple[str, ...]

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(d for d in self.ids_b if d not in self.ids_a)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(d for d in self.ids_a if d not in self.ids_b)

    @property
    def reranked(self) -> tuple[tuple[str, int, int], ...]:
        """(document, rank in A, rank in B), ranks from 1, for documents both returned."""
        return tuple(
            (d, self.ids_a.index(d) + 1, self.ids_b.index(d) + 1)
            for d in self.ids_a
            if d in self.ids_b and self.ids_a.index(d) != self.ids_b.index(d)
        )

    @property
    def subject(self) -> str:
        return self.step

    @property
    def before(self) -> str:
        return ", ".join(self.ids_a) or "—"

    @property
    def after(self) -> str:
        return ", ".join(self.ids_b) or "—"

    @property
    def detail(self) -> str:
        lines = []
        if self.added:
            lines.append("added: " + ", ".join(self.added))
        if self.removed:
            lines.append("removed: " + ", ".join(self.removed))
        lines.extend(f"rank {d}: {ra} → {rb}" for d, ra, rb in self.reranked)
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class ToolArgsChange(_FieldsChange):
    """The same tool, aligned, called with other arguments (one `FieldChange` per arg)."""

    kind: Literal["tool_args"] = "tool_args"
    category: ClassVar[Category] = "effect"
    step: str

    @property
    def subject(self) -> str:
        return self.step


@dataclass(frozen=True, kw_only=True)
class OutputChange(Change):
    """A step's output (or, ``final``, the trace's) differs; texts as recorded, ids of
    generated messages and tool calls left out."""

    kind: Literal["output"] = "output"
    category: ClassVar[Category] = "effect"
    step: str
    text_a: str
    text_b: str
    final: bool = False

    @property
    def subject(self) -> str:
        return f"{self.step} (final output)" if self.final else self.step

    @property
    def before(self) -> str:
        return _one_line(self.text_a)

    @property
    def after(self) -> str:
        return _one_line(self.text_b)

    @property
    def text_diff(self) -> str:
        return unified(self.text_a, self.text_b)

    @property
    def detail(self) -> str:
        return self.text_diff


@dataclass(frozen=True, kw_only=True)
class StepChange(Change):
    """A step (model call, tool call, node, ...) that only one side took."""

    kind: Literal["step"] = "step"
    category: ClassVar[Category] = "effect"
    step: str
    only_in: Side

    @property
    def subject(self) -> str:
        return self.step

    @property
    def before(self) -> str:
        return self.step if self.only_in == "a" else "—"

    @property
    def after(self) -> str:
        return self.step if self.only_in == "b" else "—"


@dataclass(frozen=True, kw_only=True)
class TraceChange(Change):
    """A trace of one run with no counterpart in the other run."""

    kind: Literal["trace"] = "trace"
    category: ClassVar[Category] = "effect"
    name: str
    trace_id: str
    only_in: Side

    @property
    def subject(self) -> str:
        return f"{self.name} ({self.trace_id})"

    @property
    def before(self) -> str:
        return self.subject if self.only_in == "a" else "—"

    @property
    def after(self) -> str:
        return self.subject if self.only_in == "b" else "—"


@dataclass(frozen=True, kw_only=True)
class ErrorChange(Change):
    """A step (or the run) failed on one side only, or with another error."""

    kind: Literal["error"] = "error"
    category: ClassVar[Category] = "effect"
    step: str
    error_a: str | None
    error_b: str | None

    @property
    def subject(self) -> str:
        return self.step

    @property
    def before(self) -> str:
        return self.error_a or "ok"

    @property
    def after(self) -> str:
        return self.error_b or "ok"


# -- declared and metrics -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ParamChange(Change):
    """A param given to ``tape.run(params=...)`` differs."""

    kind: Literal["param"] = "param"
    category: ClassVar[Category] = "declared"
    key: str
    value_a: Any
    value_b: Any

    @property
    def subject(self) -> str:
        return self.key

    @property
    def before(self) -> str:
        return shown(self.value_a)

    @property
    def after(self) -> str:
        return shown(self.value_b)


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

    @property
    def label(self) -> str:
        if not self.causes:
            return "unexplained"
        return "; ".join(f"{c.kind} {c.subject}" for c in self.causes)


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ⏎ ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}" if value != int(value) else str(int(value))
