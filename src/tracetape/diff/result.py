"""`Diff`: what `tape.diff(a, b)` returns — causes with their effects, declared params
and timings; a DataFrame, text in a terminal, side by side in Jupyter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from tracetape.diff.changes import Change, Group, MetricChange, ParamChange

What = Literal["trace", "run", "environment"]


@dataclass(frozen=True)
class Diff:
    """What changed between two traces, two runs or two environments.

    ``groups`` pairs each cause with the effects attributed to it (the rule is in
    `tracetape.diff.attribution`); effects no cause explains come last, in a group
    without causes. ``declared`` holds run params that differ, ``metrics`` latency,
    tokens, errors and step counts (never causes, ignored by `is_empty`).

    Example:
        >>> d = tape.diff(good_run_id, bad_run_id)
        >>> [(c.kind, c.subject) for c in d.causes]
        [('package', 'openai'), ('prompt', 'ChatPromptTemplate')]
        >>> d.to_frame()
    """

    a: str
    b: str
    what: What
    groups: tuple[Group, ...] = ()
    declared: tuple[ParamChange, ...] = ()
    metrics: tuple[MetricChange, ...] = ()
    names: tuple[str | None, str | None] = (None, None)

    @property
    def causes(self) -> list[Change]:
        """Every cause: environment first, then in pipeline order."""
        return [cause for group in self.groups for cause in group.causes]

    @property
    def effects(self) -> list[Change]:
        """Every effect, group by group."""
        return [effect for group in self.groups for effect in group.effects]

    @property
    def changes(self) -> list[Change]:
        """Every change: causes, effects, declared params, then metrics."""
        return [*self.causes, *self.effects, *self.declared, *self.metrics]

    @property
    def is_empty(self) -> bool:
        """No cause, effect or declared param differs (timings and tokens aside)."""
        return not (self.causes or self.effects or self.declared)

    def __bool__(self) -> bool:
        return not self.is_empty

    def to_frame(self) -> pd.DataFrame:
        """One row per change: category, kind, subject, before (A), after (B), detail,
        and ``group`` (the cause(s) an effect is attributed to)."""
        rows: list[dict[str, Any]] = []

        def add(change: Change, group: str | None) -> None:
            rows.append(
                {
                    "category": change.category, "kind": change.kind,
                    "subject": change.subject, "before": change.before,
                    "after": change.after, "detail": change.detail, "group": group,
                }
            )  # fmt: skip

        for group in self.groups:
            for cause in group.causes:
                add(cause, group.label)
            for effect in group.effects:
                add(effect, group.label)
        for change in (*self.declared, *self.metrics):
            add(change, None)
        columns = ["category", "kind", "subject", "before", "after", "detail", "group"]
        return pd.DataFrame(rows, columns=columns)

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

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": self._repr_html_(), "text/plain": self.text()}
