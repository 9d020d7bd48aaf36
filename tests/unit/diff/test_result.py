"""`Diff`: emptiness ignores timings; the frame, text and HTML views."""

from __future__ import annotations

from tracetape.diff import Diff, Group, MetricChange, PackageChange, ParamChange, PromptChange

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
    ]  # fmt: skip
    assert frame.to_dict("records")[0] == {
        "category": "cause", "kind": "package", "subject": "openai", "before": "1.0",
        "after": "—", "detail": "", "group": "package openai",
    }  # fmt: skip
    assert frame.category.tolist() == ["cause", "metric"]


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
