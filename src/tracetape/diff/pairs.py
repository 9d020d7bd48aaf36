"""The aligned trace pairs of a diff, and what changed in each: which questions of an
eval run behaved differently, without reading any change's label.

Example:
    >>> d = tape.diff(run_v2, run_v3)
    >>> d.traces()  # one row per pair: counts of effects by type
    >>> [p.trace_id_b for p in d.changed_traces()]  # pairs with a behavioural effect
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from tracetape.diff.changes import Change
from tracetape.diff.effects import (
    DocumentsChange,
    ErrorChange,
    OutputChange,
    StepChange,
    ToolArgsChange,
    behavioural,
)


@dataclass(frozen=True)
class TracePair:
    """Two traces a diff aligned: ``pair`` numbers them from 1 in side A's order (``t1``
    in labels); a trace id is None on the side that has no counterpart."""

    pair: int
    trace_id_a: str | None
    trace_id_b: str | None


COLUMNS = [
    "pair", "trace_id_a", "trace_id_b", "changed", "effects", "documents", "tool_args",
    "outputs", "steps", "errors", "renderings_listed", "renderings_implied",
]  # fmt: skip
"""The columns of `traces_frame`."""


def _counts(effects: Sequence[Change], implied: Sequence[Change]) -> dict[str, int]:
    acted = [e for e in effects if behavioural(e)]
    return {
        "effects": len(acted),
        "documents": sum(isinstance(e, DocumentsChange) for e in acted),
        "tool_args": sum(isinstance(e, ToolArgsChange) for e in acted),
        "outputs": sum(isinstance(e, OutputChange) for e in acted),
        "steps": sum(isinstance(e, StepChange) for e in acted),
        "errors": sum(isinstance(e, ErrorChange) for e in acted),
        "renderings_listed": sum(not behavioural(e) for e in effects),
        "renderings_implied": len(implied),
    }


def traces_frame(
    pairs: Sequence[TracePair], effects: Sequence[Change], implied: Sequence[Change]
) -> pd.DataFrame:
    """One row per trace pair: ``changed`` (at least one behavioural effect; a trace only
    one side has is one), ``effects`` (how many behavioural effects) and those by type;
    ``renderings_listed`` counts rendered prompts listed (their variables' values differ
    too), ``renderings_implied`` those a template edit implies (counted on it)."""
    rows: list[dict[str, object]] = []
    for pair in pairs:
        mine = [e for e in effects if e.location.pair == pair.pair]
        counts = _counts(mine, [e for e in implied if e.location.pair == pair.pair])
        rows.append(
            {
                "pair": pair.pair, "trace_id_a": pair.trace_id_a, "trace_id_b": pair.trace_id_b,
                "changed": counts["effects"] > 0, **counts,
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def changed(pairs: Sequence[TracePair], effects: Sequence[Change]) -> list[TracePair]:
    """The pairs whose traces behaved differently: at least one behavioural effect (a
    trace only one side has is one)."""
    acted = {e.location.pair for e in effects if behavioural(e)}
    return [p for p in pairs if p.pair in acted]
