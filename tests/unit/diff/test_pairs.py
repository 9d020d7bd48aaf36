"""Trace pairs: which behaved differently, and their effects counted by type."""

from __future__ import annotations

import pandas as pd

from tracetape.diff import (
    Diff,
    DocumentsChange,
    Group,
    Location,
    OutputChange,
    PromptChange,
    StepChange,
    TraceChange,
    TracePair,
)

PAIRS = (
    TracePair(1, "a1" * 16, "b1" * 16),
    TracePair(2, "a2" * 16, "b2" * 16),
    TracePair(3, "a3" * 16, None),
)


def at(pair: int, kind: str | None = None) -> Location:
    return Location(pair=pair, step=None if kind is None else 2, step_kind=kind)


def rendering(pair: int) -> OutputChange:
    return OutputChange(step="#2 prompt qa", text_a="x", text_b="y", location=at(pair, "prompt"))


def test_a_pair_changed_when_the_agent_did_something_else_not_when_a_prompt_rendered() -> None:
    edit = PromptChange(name="qa", text_a="A", text_b="B", rendered_prompts=2, rendered_traces=2)
    effects = (
        DocumentsChange(
            step="t2 #1 retriever", ids_a=("d1",), ids_b=("d2",), location=at(2, "retriever")
        ),
        rendering(2),  # listed: its values differ too; still not behaviour
        StepChange(step="t2 #3 tool add", only_in="b", location=at(2, "tool")),
        OutputChange(step="t2 answer", text_a="1", text_b="2", final=True, location=at(2)),
        TraceChange(name="q3", trace_id="a3" * 16, only_in="a", location=at(3)),
    )  # fmt: skip
    diff = Diff(
        "run-a", "run-b", "run", pairs=PAIRS,
        groups=(Group((edit,), effects, (rendering(1), rendering(2))),),
    )  # fmt: skip

    assert diff.changed_traces() == [PAIRS[1], PAIRS[2]]
    frame = diff.traces().set_index("pair")
    assert frame.changed.tolist() == [False, True, True]
    assert frame.loc[2, ["effects", "documents", "outputs", "steps", "errors"]].tolist() == [
        3, 1, 1, 1, 0,
    ]  # fmt: skip
    assert frame.renderings_listed.tolist() == [0, 1, 0]
    assert frame.renderings_implied.tolist() == [1, 1, 0]
    assert pd.isna(frame.loc[3, "trace_id_b"])


def test_an_environment_diff_has_no_pairs() -> None:
    diff = Diff("env-a", "env-b", "environment")

    assert diff.changed_traces() == []
    assert diff.traces().empty and "trace_id_a" in diff.traces().columns
