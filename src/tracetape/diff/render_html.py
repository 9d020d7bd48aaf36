"""A `Diff` for Jupyter: one table, side A beside side B, causes each followed by the
effects attributed to them; texts (prompt templates, outputs) side by side line by line
(``difflib.HtmlDiff``). Every value is escaped."""

from __future__ import annotations

import difflib
from html import escape
from typing import TYPE_CHECKING

from tracetape.diff.causes import PromptChange
from tracetape.diff.changes import Change, FieldChange, Group, shown
from tracetape.diff.effects import OutputChange
from tracetape.diff.render_text import MAX_METRIC_ROWS

if TYPE_CHECKING:
    from tracetape.diff.result import Diff

_STYLE = """<style>
.tt-diff{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;border-collapse:collapse}
.tt-diff td,.tt-diff th{border-top:1px solid #ddd;padding:3px 8px;vertical-align:top;
text-align:left;white-space:pre-wrap}
.tt-diff .tt-sec th{background:#f3f0fa;font-weight:600}
.tt-diff .tt-cause td:first-child{font-weight:600;color:#7a3ea1}
.tt-diff .tt-effect td:first-child{padding-left:22px;color:#2f5d9a}
.tt-diff .tt-a{background:#fff1f0}.tt-diff .tt-b{background:#effaf0}
.tt-diff table.diff{border-collapse:collapse}.tt-diff td.diff_next{display:none}
.tt-diff .diff_add{background:#cdf3d1}.tt-diff .diff_chg{background:#fdf3c4}
.tt-diff .diff_sub{background:#f9d0cd}.tt-diff td.diff_header{color:#999}
</style>"""


def _side_by_side(text_a: str, text_b: str) -> str:
    table = difflib.HtmlDiff(wrapcolumn=70).make_table(
        text_a.splitlines(), text_b.splitlines(), context=True, numlines=2
    )
    return f'<td colspan="2">{table}</td>'


def _field_rows(fields: tuple[FieldChange, ...], css: str) -> list[str]:
    return [
        f'<tr class="{css}"><td>{escape(f.field)}</td>'
        f'<td class="tt-a">{escape(shown(f.before))}</td>'
        f'<td class="tt-b">{escape(shown(f.after))}</td></tr>'
        for f in fields
    ]


def _rows(change: Change, css: str) -> list[str]:
    marker = "●" if css == "tt-cause" else "↳"
    title = escape(f"{marker} {change.kind} {change.subject}")
    fields: tuple[FieldChange, ...] = getattr(change, "fields", ())
    if isinstance(change, PromptChange | OutputChange) and change.text_a != change.text_b:
        texts = _side_by_side(change.text_a, change.text_b)
        rows = [f'<tr class="{css}"><td>{title}</td>{texts}</tr>']
        if isinstance(change, PromptChange):
            variables = FieldChange("variables", list(change.variables_a), list(change.variables_b))
            extra = (variables,) if set(change.variables_a) != set(change.variables_b) else ()
            rows.extend(_field_rows(extra + change.fields, css))
            if change.rendered:
                rows.append(
                    f'<tr class="{css}"><td colspan="3">{escape(change.rendered)}</td></tr>'
                )
        return rows
    if fields:
        return [f'<tr class="{css}"><td colspan="3">{title}</td></tr>', *_field_rows(fields, css)]
    return [
        f'<tr class="{css}"><td>{title}</td><td class="tt-a">{escape(change.before)}</td>'
        f'<td class="tt-b">{escape(change.after)}</td></tr>'
    ]


def _section(title: str) -> str:
    return f'<tr class="tt-sec"><th colspan="3">{escape(title)}</th></tr>'


def _group(group: Group) -> list[str]:
    rows = [_section("cause: " + group.label if group.causes else "unexplained effects")]
    for cause in group.causes:
        rows.extend(_rows(cause, "tt-cause"))
    for effect in group.effects:
        rows.extend(_rows(effect, "tt-effect"))
    return rows


def html(diff: Diff) -> str:
    """The report as an HTML fragment (a style block and one table)."""
    names = [f" ({escape(n)})" if n else "" for n in diff.names]
    rows = [
        f'<tr><th>{escape(diff.what)}s</th><th class="tt-a">A {escape(diff.a)}{names[0]}</th>'
        f'<th class="tt-b">B {escape(diff.b)}{names[1]}</th></tr>'
    ]
    if diff.is_empty:
        rows.append(_section("no change (timings aside)"))
    for group in diff.groups:
        rows.extend(_group(group))
    if diff.declared:
        rows.append(_section("declared run params (not causes)"))
        for param in diff.declared:
            rows.extend(_rows(param, "tt-effect"))
    if diff.context:
        rows.append(_section("context (informational, not causes)"))
        for context in diff.context:
            rows.extend(_rows(context, "tt-effect"))
    if diff.metrics:
        rows.append(_section("timings and tokens (never causes)"))
        for metric in diff.metrics[:MAX_METRIC_ROWS]:
            rows.extend(_rows(metric, "tt-effect"))
        if len(diff.metrics) > MAX_METRIC_ROWS:
            more = len(diff.metrics) - MAX_METRIC_ROWS
            rows.append(_section(f"… {more} more rows in Diff.metrics"))
    body = "\n".join(rows)
    return f'<div class="tracetape-diff">{_STYLE}<table class="tt-diff">{body}</table></div>'
