"""Effects: what came out differently — documents, tool arguments, outputs, steps one
side took, errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from tracetape.diff.changes import Category, Change, FieldsChange, Side, one_line, unified
from tracetape.spans import kinds


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
class ToolArgsChange(FieldsChange):
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
        return one_line(self.text_a)

    @property
    def after(self) -> str:
        return one_line(self.text_b)

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


def behavioural(change: Change) -> bool:
    """Whether an effect is something the agent did differently: other documents, tool
    arguments, outputs of model calls, tools, nodes and traces, steps or traces one side
    took, errors. A prompt's rendering is not: it is what a model was asked, and what the
    model did with it shows in that call's own output."""
    if change.category != "effect":
        return False
    return not (isinstance(change, OutputChange) and change.location.step_kind == kinds.PROMPT)
