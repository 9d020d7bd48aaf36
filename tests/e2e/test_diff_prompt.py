"""``tape.diff`` of two runs of a LangGraph support agent over five questions, the second
with one sentence added to its system prompt, which changes what the agent does for one
question: the diff says so once (the edit, with the renderings it implies counted on it),
lists only what the agent did differently, and names exactly that question's trace pair.
"""

from __future__ import annotations

import pytest

from tests.fakes import diff_app
from tracetape.diff import Diff, OutputChange, PromptChange, StepChange
from tracetape.tape import Tape

SHIPPING = diff_app.SUPPORT_QUESTIONS.index("How long does shipping take?")


@pytest.fixture
def runs(tape: Tape) -> tuple[str, str]:
    before = diff_app.record_support(tape, diff_app.SYSTEM, "support-v1")
    after = diff_app.record_support(tape, f"{diff_app.SYSTEM} {diff_app.RULE}", "support-v2")
    return before, after


def _question_traces(tape: Tape, run_id: str) -> list[str]:
    """The run's trace ids in the order of `SUPPORT_QUESTIONS`, read from the tape."""
    roots = tape.sql(
        "SELECT trace_id, input::VARCHAR AS input FROM spans "
        "WHERE run_id = ? AND parent_span_id IS NULL",
        [run_id],
    )
    by_question = {
        q: t for t, i in zip(roots.trace_id, roots.input, strict=True)
        for q in diff_app.SUPPORT_QUESTIONS if q in i
    }  # fmt: skip
    return [by_question[q] for q in diff_app.SUPPORT_QUESTIONS]


def test_a_prompt_edit_is_said_once_and_only_the_question_it_changed_is_reported(
    tape: Tape, runs: tuple[str, str]
) -> None:
    before, after = runs
    traces_a, traces_b = _question_traces(tape, before), _question_traces(tape, after)
    n_prompts = tape.sql(
        "SELECT count(*) AS n FROM spans WHERE run_id = ? AND kind = 'prompt'", [after]
    ).n[0]

    result: Diff = tape.diff(before, after)

    (edit,) = result.causes
    assert isinstance(edit, PromptChange) and diff_app.RULE in edit.text_b
    # Found first in the first question's first prompt: located there, spans and all.
    where = edit.location
    assert (where.pair, where.step_kind, where.step_name) == (1, "prompt", "ChatPromptTemplate")
    assert (where.trace_id_a, where.trace_id_b) == (traces_a[0], traces_b[0])
    first_prompts = tape.sql(
        "SELECT trace_id, arg_min(span_id, start_time) AS span_id FROM spans "
        "WHERE kind = 'prompt' AND trace_id IN (?, ?) GROUP BY trace_id",
        [traces_a[0], traces_b[0]],
    ).set_index("trace_id")
    assert where.span_id_a == first_prompts.span_id[traces_a[0]]
    assert where.span_id_b == first_prompts.span_id[traces_b[0]]
    # Every rendered prompt holds the edit. All but one rendered the same variables'
    # values: implied by the edit, counted on it. The shipping question's second prompt
    # holds another tool's result: listed, though not behaviour.
    listed = [e for e in result.effects if e.location.step_kind == "prompt"]
    assert [e.location.pair for e in listed] == [SHIPPING + 1]
    assert edit.rendered_prompts == n_prompts - 1 == len(result.implied)
    assert edit.rendered_traces == len(diff_app.SUPPORT_QUESTIONS)
    assert f"{n_prompts - 1} rendered prompts differ in 5 traces" in result.text(width=200)
    # What the agent did differently: the shipping question's tool call and answer only.
    (changed,) = result.changed_traces()
    assert (changed.pair, changed.trace_id_a, changed.trace_id_b) == (
        SHIPPING + 1, traces_a[SHIPPING], traces_b[SHIPPING],
    )  # fmt: skip
    assert {e.location.trace_id_b for e in result.effects} == {traces_b[SHIPPING]}
    only = [(e.location.step_name, e.only_in) for e in result.effects if isinstance(e, StepChange)]
    assert ("lookup_order", "a") in only and ("search_docs", "b") in only
    summary = result.traces()
    assert summary.trace_id_a.tolist() == traces_a and summary.trace_id_b.tolist() == traces_b
    assert summary.changed.tolist() == [i == SHIPPING for i in range(5)]
    assert summary.renderings_implied.sum() == n_prompts - 1
    assert summary.loc[SHIPPING, "renderings_listed"] == 1


def test_each_effect_names_its_spans_on_both_sides(tape: Tape, runs: tuple[str, str]) -> None:
    result = tape.diff(*runs)

    frame = result.to_frame().query("category == 'effect'")
    spans = tape.sql("SELECT trace_id, span_id, kind, name, tool_name, model FROM spans")
    by_id = spans.set_index("span_id")
    for row in frame.itertuples():
        for side in ("a", "b"):
            span_id, trace_id = getattr(row, f"span_id_{side}"), getattr(row, f"trace_id_{side}")
            if isinstance(span_id, str):
                span = by_id.loc[span_id]
                assert span.trace_id == trace_id
                if isinstance(row.step_kind, str):  # a step, not the trace's final output
                    assert span.kind == row.step_kind
    answers = frame[(frame.kind == "output") & (frame.step_kind == "llm")]
    assert len(answers) == 2  # the tool it asked for, the answer it gave
    assert set(answers.step_name) == {"rule-model-1"}
    assert answers.step.tolist() == sorted(answers.step.tolist())
    finals = [e for e in result.effects if isinstance(e, OutputChange) and e.final]
    (final,) = finals
    assert final.location.step is None and final.location.span_id_a is not None
