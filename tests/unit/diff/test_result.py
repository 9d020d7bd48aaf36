"""`Diff`: emptiness ignores timings and context; the frame, text and HTML views; one
display output in Jupyter."""

from __future__ import annotations

from dataclasses import replace

import pytest
from IPython.core.formatters import DisplayFormatter

from tracetape.diff import (
    ContextChange,
    Diff,
    Group,
    Location,
    MetricChange,
    OutputChange,
    PackageChange,
    ParamChange,
    PromptChange,
    ToolArgsChange,
)
from tracetape.diff.changes import FieldChange

TIMING = MetricChange(step="total", metric="duration_ms", value_a=10.0, value_b=12.5)
PROMPT = PromptChange(
    name="qa", text_a="Answer <b>briefly</b>.\n{q}", text_b="Answer fully & well.\n{q}",
    variables_a=("q",), variables_b=("q", "ctx"),
)  # fmt: skip


def test_timings_alone_leave_a_diff_empty() -> None:
    only_timings = Diff("a" * 32, "b" * 32, "trace", metrics=(TIMING,))

    assert only_timings.is_empty and not only_timings
    assert only_timings.changes == [TIMING]
    declared = Diff("run-a", "run-b", "run", declared=(ParamChange(key="k", value_a=2, value_b=3),))
    assert not declared.is_empty


def test_the_frame_has_one_row_per_change_with_its_group() -> None:
    package = PackageChange(name="openai", version_a="1.0", version_b=None)
    diff = Diff("env-a", "env-b", "environment", groups=(Group((package,)),), metrics=(TIMING,))

    frame = diff.to_frame()

    assert frame.columns.tolist() == [
        "category", "kind", "subject", "before", "after", "detail", "group",
        "pair", "trace_id_a", "trace_id_b", "step", "step_kind", "step_name",
        "span_id_a", "span_id_b", "rendered_prompts", "rendered_traces",
    ]  # fmt: skip
    row = frame.iloc[0]
    assert row[:7].to_dict() == {
        "category": "cause", "kind": "package", "subject": "openai", "before": "1.0",
        "after": "—", "detail": "", "group": "package openai",
    }  # fmt: skip
    assert row[7:].isna().all()  # the environment is found nowhere in particular
    assert frame.category.tolist() == ["cause", "metric"]


ARGS_AT = Location(
    pair=2, trace_id_a="a" * 32, trace_id_b="b" * 32, step=4, step_kind="tool",
    step_name="add", span_id_a="1" * 16, span_id_b="2" * 16,
)  # fmt: skip


def test_every_change_says_where_it_was_found_in_typed_columns() -> None:
    args = ToolArgsChange(step="t2 #4 tool add", fields=(FieldChange("b", 2, 3),), location=ARGS_AT)
    edit = replace(PROMPT, rendered_prompts=7, rendered_traces=3, location=replace(ARGS_AT, step=1))
    diff = Diff("run-a", "run-b", "run", groups=(Group((edit,), (args,)),))

    cause, effect = diff.to_frame().to_dict("records")

    assert {k: effect[k] for k in ("pair", "step", "step_kind", "step_name")} == {
        "pair": 2, "step": 4, "step_kind": "tool", "step_name": "add",
    }  # fmt: skip
    assert (effect["trace_id_a"], effect["span_id_a"]) == ("a" * 32, "1" * 16)
    assert (effect["trace_id_b"], effect["span_id_b"]) == ("b" * 32, "2" * 16)
    assert (cause["rendered_prompts"], cause["rendered_traces"]) == (7, 3)
    assert (cause["step"], cause["pair"]) == (1, 2)
    frame = diff.to_frame()
    assert str(frame.pair.dtype) == str(frame.step.dtype) == "Int64"
    # Where a change was found is not what changed: equality ignores it.
    assert args == replace(args, location=Location())


def test_a_template_edit_says_how_many_renderings_it_implies() -> None:
    edit = replace(PROMPT, rendered_prompts=10, rendered_traces=5)
    rendered = OutputChange(step="t1 #2 prompt qa", text_a="x", text_b="y")
    diff = Diff("run-a", "run-b", "run", groups=(Group((edit,), (), (rendered,) * 10),))

    text = diff.text(width=160)

    assert "10 rendered prompts differ in 5 traces as the edit implies" in text
    assert "#2 prompt" not in text  # counted, not listed
    assert "10 rendered prompts differ in 5 traces" in diff._repr_html_()
    assert "10 rendered prompts differ in 5 traces" in diff.to_frame().detail[0]
    assert diff.effects == [] and len(diff.implied) == 10
    one = replace(PROMPT, rendered_prompts=1, rendered_traces=1)
    assert one.rendered.startswith("1 rendered prompt differs in 1 trace ")
    assert PROMPT.rendered == ""


def test_context_is_shown_apart_and_leaves_a_diff_empty() -> None:
    path = ContextChange(
        field="python.executable", value_a="/a/bin/python", value_b="/b/bin/python"
    )
    diff = Diff("env-a", "env-b", "environment", context=(path,))

    assert diff.is_empty and diff.causes == []
    assert diff.changes == [path]
    text = diff.text(width=120)
    assert "context (informational, not causes)" in text
    assert "python.executable: /a/bin/python → /b/bin/python" in text
    assert "context (informational, not causes)" in diff._repr_html_()
    assert diff.to_frame().category.tolist() == ["context"]


def test_a_diff_displays_once_in_jupyter_and_prints_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    diff = Diff("run-a", "run-b", "run", groups=(Group((PROMPT,)),), metrics=(TIMING,))

    bundle = diff._repr_mimebundle_()
    data, _ = DisplayFormatter().format(diff)  # what IPython puts in the cell's one output

    assert sorted(bundle) == ["text/html", "text/plain"]
    assert bundle["text/html"].startswith('<div class="tracetape-diff">')
    assert bundle["text/plain"] == str(diff) == diff.text()
    assert "● prompt qa" in str(diff)
    assert sorted(data) == ["text/html", "text/plain"]
    assert data["text/plain"] == bundle["text/plain"]
    assert capsys.readouterr() == ("", "")  # rendering the text printed nothing


def test_text_and_html_show_the_prompt_diff_and_escape_it() -> None:
    diff = Diff("run-a", "run-b", "run", groups=(Group((PROMPT,)),), metrics=(TIMING,))

    text = diff.text(width=120)
    html = diff._repr_html_()

    assert "● prompt qa" in text
    assert "-Answer <b>briefly</b>." in text and "+Answer fully & well." in text
    assert "variables added: ctx" in text
    assert "<b>briefly</b>" not in html and "&lt;b&gt;briefly&lt;/b&gt;" in html
    assert "&amp;" in html
    assert "timings and tokens (never causes)" in text and "timings and tokens" in html
    assert repr(diff) == "Diff(runs run-a ↔ run-b: 1 causes, 0 effects, 0 params, 1 timings)"


def test_many_environment_changes_show_together_and_are_cut_in_text() -> None:
    packages = tuple(
        PackageChange(name=f"pkg{i:02d}", version_a="1", version_b="2") for i in range(30)
    )
    diff = Diff("env-a", "env-b", "environment", groups=(Group(packages),))

    text = diff.text(width=100)

    assert "● 30 environment changes" in text
    assert "pkg24 changed: 1 → 2" in text and "pkg25" not in text
    assert "… 5 more in Diff.causes" in text
    assert len(diff.causes) == 30 and "pkg29" in diff._repr_html_()
