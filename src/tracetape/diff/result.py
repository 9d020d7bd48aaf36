"""`Diff`: what `tape.diff(a, b)` returns — causes with their effects, declared params,
context and timings; a DataFrame, text in a terminal, side by side in Jupyter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from tracetape.diff.causes import PromptChange
from tracetape.diff.changes import Change, ContextChange, Group, MetricChange, ParamChange
from tracetape.diff.pairs import TracePair, changed, traces_frame

What = Literal["trace", "run", "environment"]
FRAME_COLUMNS = [
    "category", "kind", "subject", "before", "after", "detail", "group",
    "pair", "trace_id_a", "trace_id_b", "step", "step_kind", "step_name",
    "span_id_a", "span_id_b", "rendered_prompts", "rendered_traces",
]  # fmt: skip
"""The columns of `Diff.to_frame`."""
_NUMBERS = ("pair", "step", "rendered_prompts", "rendered_traces")


@dataclass(frozen=True)
class Diff:
    """What changed between two traces, two runs or two environments.

    ``groups`` pairs each cause with the effects attributed to it (the rule is in
    `tracetape.diff.attribution`); effects no cause explains come last, in a group
    without causes. A template edit's rendered prompts with the same variables' values
    are counted on the edit (`PromptChange.rendered_prompts`), not listed
    (``Group.implied`` holds them). ``declared`` holds run params that differ,
    ``context`` environment fields that are not causes (the interpreter's path),
    ``metrics`` latency, tokens, errors and step counts: none of them causes, all ignored
    by `is_empty`. ``pairs`` are the trace pairs compared (`traces`, `changed_traces`).
    Every change has a `Location` (``change.location``): trace pair, step, span ids.

    Example:
        >>> d = tape.diff(good_run_id, bad_run_id)
        >>> [(c.kind, c.subject) for c in d.causes]
        [('package', 'openai'), ('prompt', 'ChatPromptTemplate')]
        >>> d.to_frame()
        >>> d.changed_traces()
    """

    a: str
    b: str
    what: What
    groups: tuple[Group, ...] = ()
    declared: tuple[ParamChange, ...] = ()
    metrics: tuple[MetricChange, ...] = ()
    names: tuple[str | None, str | None] = (None, None)
    context: tuple[ContextChange, ...] = ()
    pairs: tuple[TracePair, ...] = ()

    @property
    def causes(self) -> list[Change]:
        """Every cause: environment first, then in pipeline order."""
        return [cause for group in self.groups for cause in group.causes]

    @property
    def effects(self) -> list[Change]:
        """Every effect, group by group."""
        return [effect for group in self.groups for effect in group.effects]

    @property
    def implied(self) -> list[Change]:
        """Effects the causes imply, counted on them and not listed (see `Group.implied`)."""
        return [effect for group in self.groups for effect in group.implied]

    @property
    def changes(self) -> list[Change]:
        """Every listed change: causes, effects, declared params, context, then metrics."""
        return [*self.causes, *self.effects, *self.declared, *self.context, *self.metrics]

    @property
    def is_empty(self) -> bool:
        """No cause, effect or declared param differs (timings, tokens and context aside)."""
        return not (self.causes or self.effects or self.declared)

    def __bool__(self) -> bool:
        return not self.is_empty

    def to_frame(self) -> pd.DataFrame:
        """One row per listed change: category, kind, subject, before (A), after (B),
        detail, ``group`` (the cause(s) an effect is attributed to), where it was found
        (``pair``, ``trace_id_a``/``_b``, ``step``, ``step_kind``, ``step_name``,
        ``span_id_a``/``_b``: see `Location`) and, on a template edit, the renderings it
        implies (``rendered_prompts`` in ``rendered_traces`` pairs)."""
        rows: list[dict[str, Any]] = []

        def add(change: Change, group: str | None) -> None:
            at = change.location
            prompt = change if isinstance(change, PromptChange) else None
            rows.append(
                {
                    "category": change.category, "kind": change.kind,
                    "subject": change.subject, "before": change.before,
                    "after": change.after, "detail": change.detail, "group": group,
                    "pair": at.pair, "trace_id_a": at.trace_id_a, "trace_id_b": at.trace_id_b,
                    "step": at.step, "step_kind": at.step_kind, "step_name": at.step_name,
                    "span_id_a": at.span_id_a, "span_id_b": at.span_id_b,
                    "rendered_prompts": prompt.rendered_prompts if prompt else None,
                    "rendered_traces": prompt.rendered_traces if prompt else None,
                }
            )  # fmt: skip

        for group in self.groups:
            for cause in group.causes:
                add(cause, group.label)
            for effect in group.effects:
                add(effect, group.label)
        for change in (*self.declared, *self.context, *self.metrics):
            add(change, None)
        frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        return frame.astype(dict.fromkeys(_NUMBERS, "Int64"))

    def traces(self) -> pd.DataFrame:
        """One row per aligned trace pair: its trace ids, ``changed`` (it behaved
        differently) and its effects counted by type (`tracetape.diff.pairs`)."""
        return traces_frame(self.pairs, self.effects, self.implied)

    def changed_traces(self) -> list[TracePair]:
        """The trace pairs with at least one behavioural effect: other documents, tool
        calls, model outputs, answers, steps or errors, or a trace only one side has.
        A prompt's rendering is not behaviour (an edited template changes them all).

        Example:
            >>> [p.trace_id_a for p in tape.diff(run_v2, run_v3).changed_traces()]
            ['4bf92f3577b34da6a3ce929d0e0e4736']
        """
        return changed(self.pairs, self.effects)

    def __repr__(self) -> str:
        return (
            f"Diff({self.what}s {self.a} ↔ {self.b}: {len(self.causes)} causes, "
            f"{len(self.effects)} effects, {len(self.declared)} params, "
            f"{len(self.metrics)} timings)"
        )

    def text(self, *, width: int = 100) -> str:
        """The terminal report as plain text."""
        from tracetape.diff.render_text import plain

        return plain(self, width=width)

    def __str__(self) -> str:
        return self.text()

    def __rich__(self) -> Any:
        from tracetape.diff.render_text import renderable

        return renderable(self)

    def _repr_html_(self) -> str:
        from tracetape.diff.render_html import html

        return html(self)

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None, **kwargs: object
    ) -> dict[str, str]:
        """What Jupyter shows: one output, HTML with the plain-text report as fallback
        (rendered into a string: nothing is printed into the cell)."""
        return {"text/html": self._repr_html_(), "text/plain": self.text()}
