"""The grouping rule: same step, else earliest cause upstream, else the environment,
else unexplained."""

from __future__ import annotations

from dataclasses import replace

from tracetape.diff.attribution import attribute
from tracetape.diff.causes import ModelChange, PackageChange, PromptChange, RetrieverChange
from tracetape.diff.changes import Change, FieldChange, Location
from tracetape.diff.effects import DocumentsChange, ErrorChange, OutputChange, TraceChange
from tracetape.diff.traces import FINAL, Located

RETRIEVER = RetrieverChange(name="retriever", fields=(FieldChange("search_kwargs.k", 2, 3),))
MODEL = ModelChange(name="small", fields=(FieldChange("request_model", "small", "large"),))
PACKAGE = PackageChange(name="openai", version_a="1.0", version_b="2.0")


def output(step: str, final: bool = False) -> OutputChange:
    return OutputChange(step=step, text_a="a", text_b="b", final=final)


def groups_of(
    environment: list[Change], causes: list[Located], effects: list[Located]
) -> dict[str, list[Change]]:
    groups = attribute(environment, causes, effects)
    return {group.label: list(group.effects) for group in groups}


def test_an_effect_goes_to_the_cause_at_its_step_else_the_earliest_upstream() -> None:
    documents = DocumentsChange(step="#1 retriever", ids_a=("x",), ids_b=("x", "y"))
    answer, final, node = output("#3 llm"), output("root", final=True), output("#4 node")
    causes = [Located(RETRIEVER, 0, 0), Located(MODEL, 0, 2)]
    effects = [
        Located(documents, 0, 0),
        Located(answer, 0, 2),
        Located(node, 0, 3),
        Located(final, 0, FINAL),
    ]

    assert groups_of([PACKAGE], causes, effects) == {
        "package openai": [],
        "retriever retriever": [documents, node, final],
        "model small": [answer],
    }


def test_the_environment_owns_effects_only_no_step_cause_explains() -> None:
    early = output("#1 llm")
    after_model = output("#3 tool")
    causes = [Located(MODEL, 0, 2)]

    assert groups_of([PACKAGE], causes, [Located(early, 0, 0), Located(after_model, 0, 3)]) == {
        "package openai": [early],
        "model small": [after_model],
    }
    assert groups_of([], causes, [Located(early, 0, 0)]) == {
        "model small": [],
        "unexplained": [early],
    }


def test_one_cause_seen_in_several_traces_is_one_cause_owning_effects_in_each() -> None:
    first, second = output("t1 #2 llm"), output("t2 #2 llm")
    causes = [Located(MODEL, 1, 1), Located(MODEL, 0, 1)]

    groups = attribute([], causes, [Located(first, 0, 1), Located(second, 1, 1)])

    assert [(g.causes, g.effects) for g in groups] == [((MODEL,), (first, second))]


def test_causes_in_another_trace_are_not_upstream() -> None:
    elsewhere = output("t2 #1 llm")

    groups = groups_of([], [Located(MODEL, 0, 0)], [Located(elsewhere, 1, 3)])

    assert groups == {"model small": [], "unexplained": [elsewhere]}


def test_run_effects_go_to_the_first_cause_and_extra_traces_to_the_environment() -> None:
    failed = ErrorChange(step="run", error_a=None, error_b="ValueError")
    extra = TraceChange(name="q3", trace_id="ab" * 16, only_in="b")
    causes = [Located(RETRIEVER, 0, 1), Located(MODEL, 0, 0)]

    assert groups_of([PACKAGE], causes, [Located(failed, None, FINAL), Located(extra, 2, -1)]) == {
        "package openai": [extra],
        "model small": [failed],
        "retriever retriever": [],
    }


def test_renderings_a_template_edit_implies_are_counted_on_it_not_listed() -> None:
    edit = PromptChange(name="qa", text_a="Answer: {q}", text_b="Answer briefly: {q}")
    edits = [Located(replace(edit, location=Location(pair=t + 1, step=2)), t, 1) for t in range(3)]
    renderings = [
        Located(replace(output(f"t{t + 1} #2 prompt"), location=Location(pair=t + 1)), t, p)
        for t, p in ((0, 1), (1, 1), (2, 1), (2, 5))
    ]
    answer = output("t3 #3 llm")

    (group,) = attribute([], edits, [Located(answer, 2, 2)], renderings)

    (cause,) = group.causes
    assert isinstance(cause, PromptChange)
    assert (cause.rendered_prompts, cause.rendered_traces) == (4, 3)
    assert group.effects == (answer,)
    assert group.implied == tuple(r.change for r in renderings)
    assert cause.location == Location(pair=1, step=2)  # where it was first found
