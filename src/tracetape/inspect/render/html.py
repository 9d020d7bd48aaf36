"""The HTML view of a trace or a span: a collapsible span tree over a shared timeline.

Each span is a row (kind, name, model or tool, tokens, status, scores) with a bar placed
on the trace's timeline (a waterfall); clicking a row opens the span's details
(`html_body.span_body`); the triangle folds the spans under it. The page is one
self-contained fragment: inline CSS, an optional inline script, no external resource,
element ids unique per rendering, every recorded value escaped. Span details stop
after ``BODY_BUDGET`` characters so a 1,000-span trace stays a reasonable size; the
rows are always all there (up to ``MAX_ROWS``), and every cut is said.

Example:
    >>> Path("trace.html").write_text(page(tape.trace(trace_id).html()))
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

import pandas as pd

from tracetape.inspect.render.html_assets import CSS, SCRIPT
from tracetape.inspect.render.html_body import span_body
from tracetape.inspect.render.html_parts import esc
from tracetape.inspect.render.text import (
    format_duration,
    format_score,
    format_tokens,
    score_labels,
    shorten,
)

if TYPE_CHECKING:
    from tracetape.inspect.span import SpanNode
    from tracetape.inspect.trace import Trace

BODY_BUDGET: Final = 1_500_000
"""Characters of span details one view holds; later spans say where to see theirs."""
ERROR_BUDGET: Final = 500_000
"""More characters for failed spans past ``BODY_BUDGET``: errors always show first."""
MAX_ROWS: Final = 2_000
"""Span rows one view shows."""

_TOOLBAR = (
    '<span class="tt-tools">'
    '<button type="button" data-tt-act="errors" title="open every failed span">errors</button>'
    '<button type="button" data-tt-act="unfold" title="show every span">expand all</button>'
    '<button type="button" data-tt-act="fold" title="show only the top spans">fold all</button>'
    '<button type="button" data-tt-act="close" title="close every opened span">close</button>'
    "</span>"
)


class _Timeline:
    """Maps span times to percentages of the shared axis (from the first start)."""

    def __init__(self, nodes: Sequence[SpanNode]) -> None:
        starts = [n.start_time for n in nodes if n.start_time is not None]
        self.origin = min(starts) if starts else None
        ends = [0.0]
        for node in nodes:
            start = self._ms(node.start_time)
            if node.end_time is not None:
                ends.append(self._ms(node.end_time) or 0.0)
            elif start is not None and node.duration_ms is not None:
                ends.append(start + node.duration_ms)
        self.total = max(max(ends), 1e-3)

    def _ms(self, stamp: pd.Timestamp | None) -> float | None:
        """Milliseconds from the origin (exact: integer nanoseconds first)."""
        if stamp is None or self.origin is None:
            return None
        return (stamp.value - self.origin.value) / 1e6

    def bar(self, node: SpanNode) -> str:
        start = self._ms(node.start_time)
        if start is None:
            return ""
        left = start / self.total * 100
        width = (node.duration_ms or 0.0) / self.total * 100
        width = min(width, 100 - left)
        return f'<span class="tt-bar" style="left:{left:.3f}%;width:{width:.3f}%"></span>'

    def axis(self) -> str:
        ticks = "".join(
            f'<span style="left:{q * 100:.0f}%">{esc(format_duration(self.total * q))}</span>'
            for q in (0, 0.25, 0.5, 0.75, 1)
        )
        return (
            '<div class="tt-row tt-axis"><span>span</span>'
            f'<span class="tt-ticks">{ticks}</span><span class="tt-dur">duration</span></div>'
        )


def _label(
    node: SpanNode, level: int, fold_id: str | None, failed_below: bool, scores: Iterable[str]
) -> str:
    twisty = (
        f'<label class="tt-twisty" for="{fold_id}"></label>'
        if fold_id
        else '<span class="tt-leaf"></span>'
    )
    parts = [twisty, f'<span class="tt-kind">{esc(node.kind)}</span>']
    parts.append(f'<span class="tt-name" title="{esc(node.name)}">{esc(node.name)}</span>')
    if node.model and node.model not in node.name:
        parts.append(f'<span class="tt-model">{esc(node.model)}</span>')
    elif node.tool_name and node.tool_name != node.name:
        parts.append(f'<span class="tt-model">{esc(node.tool_name)}</span>')
    if node.kind == "tool" and node.input is not None:
        arguments = node.input if isinstance(node.input, str) else json.dumps(node.input)
        parts.append(f'<span class="tt-args tt-mono">{esc(shorten(arguments, 80))}</span>')
    tokens = format_tokens(node.input_tokens, node.output_tokens)
    if tokens:
        parts.append(f'<span class="tt-tok">{esc(tokens)}</span>')
    if node.failed:
        short = (node.error_type or "error").rsplit(".", 1)[-1]
        message = f": {node.status_message}" if node.status_message else ""
        title = esc(f"{node.error_type or 'error'}{message}")
        parts.append(
            f'<span class="tt-status" title="{title}">'
            f"✗ {esc(short)}{esc(shorten(message, 120))}</span>"
        )
    if failed_below:
        parts.append('<span class="tt-dot" title="a span under this one failed">●</span>')
    parts.extend(f'<span class="tt-chip tt-score">★ {esc(s)}</span>' for s in scores)
    depth = f"padding-left:{min(level, 40) * 16}px"
    return f'<span class="tt-label" style="{depth}">{"".join(parts)}</span>'


def _rows(uid: str, nodes: Sequence[SpanNode], opened: SpanNode | None) -> str:
    """The nested rows; ``nodes`` in tree order, the first one the top."""
    timeline = _Timeline(nodes)
    scores = score_labels(nodes[0].trace.scores if nodes and nodes[0].trace else None)
    failed_below = {id(a) for n in nodes if n.failed for a in n.ancestors}
    base = nodes[0].depth if nodes else 0
    out: list[str] = [timeline.axis(), '<div class="tt-tree">']
    budget, error_budget = BODY_BUDGET, ERROR_BUDGET
    open_levels = 0
    for index, node in enumerate(nodes[:MAX_ROWS]):
        level = node.depth - base
        while open_levels > level:
            out.append("</div></div>")
            open_levels -= 1
        fold_id = f"{uid}-f{index}" if node.children else None
        if budget > 0 or node is opened:
            body = span_body(node)
            budget -= len(body)
        elif node.failed and error_budget > 0:
            body = span_body(node)
            error_budget -= len(body)
        else:
            body = (
                '<span class="tt-cut">not in this view (it keeps its size down): see '
                f"<code>trace.span({esc(json.dumps(node.span_id))})</code></span>"
            )
        classes = f"tt-span tt-k-{esc(node.kind)}" + (" tt-failed" if node.failed else "")
        out.append(
            '<div class="tt-node">'
            + (f'<input type="checkbox" class="tt-fold" id="{fold_id}">' if fold_id else "")
            + f'<details class="{classes}" id="{uid}-s{index}" '
            f'data-span-id="{esc(node.span_id)}" style="--tt-depth:{min(level, 12)}"'
            + (" open" if node is opened else "")
            + '><summary class="tt-row">'
            + _label(node, level, fold_id, id(node) in failed_below, scores.get(node.span_id, ()))
            + f'<span class="tt-track">{timeline.bar(node)}</span>'
            f'<span class="tt-dur">{esc(format_duration(node.duration_ms))}</span></summary>'
            f'<div class="tt-body">{body}</div></details><div class="tt-children">'
        )
        open_levels = level + 1
    out.append("</div></div>" * open_levels)
    if len(nodes) > MAX_ROWS:
        out.append(
            f'<div class="tt-row"><span class="tt-cut">… {len(nodes) - MAX_ROWS:,} more spans '
            "not shown; find them with trace.find(...)</span></div>"
        )
    out.append("</div>")
    return "".join(out)


def _view(uid: str, head: str, rows: str) -> str:
    script = SCRIPT % {"uid": json.dumps(uid)}
    return (
        f'<div class="tt-view" id="{uid}"><style>{CSS}</style>'
        f'<div class="tt-head">{head}{_TOOLBAR}</div>{rows}<script>{script}</script></div>'
    )


def _new_uid() -> str:
    # Random, not counted: a notebook keeps outputs of earlier kernels on the same page.
    return f"tt-{secrets.token_hex(6)}"


def trace_html(trace: Trace, *, uid: str | None = None) -> str:
    """A trace as a self-contained HTML fragment (what ``_repr_mimebundle_`` shows)."""
    uid = uid or _new_uid()
    nodes = list(trace)
    errors = sum(1 for n in nodes if n.failed)
    llm = [n for n in nodes if n.kind == "llm"]
    tokens = format_tokens(
        sum(n.input_tokens or 0 for n in llm) if any(n.input_tokens for n in llm) else None,
        sum(n.output_tokens or 0 for n in llm) if any(n.output_tokens for n in llm) else None,
    )
    models = sorted({n.model for n in llm if n.model})
    head = [
        '<span class="tt-title">trace</span>',
        f"<code>{esc(trace.trace_id)}</code>",
    ]
    if nodes:
        head.append(f'<span class="tt-chip">{esc(trace.name)}</span>')
        start = nodes[0].start_time
        if start is not None:
            stamp = esc(start.strftime("%Y-%m-%d %H:%M:%S"))
            head.append(f'<span class="tt-muted">{stamp} UTC</span>')
        head.append(f"<span>{esc(format_duration(trace.duration_ms))}</span>")
    head.append(f'<span class="tt-muted">{len(nodes)} spans</span>')
    if errors:
        plural = "s" if errors > 1 else ""
        head.append(f'<span class="tt-chip tt-bad">✗ {errors} error{plural}</span>')
    if tokens:
        head.append(f'<span class="tt-tok">{esc(tokens)}</span>')
    if models:
        head.append(f'<span class="tt-model">{esc(", ".join(models))}</span>')
    head.extend(
        f'<span class="tt-chip tt-score">★ {esc(s)}</span>'
        for s in score_labels(trace.scores).get(None, [])
    )
    return _view(uid, "".join(head), _rows(uid, nodes, None))


def span_html(node: SpanNode, *, uid: str | None = None) -> str:
    """One span as a self-contained HTML fragment: its details open, the spans under it."""
    uid = uid or _new_uid()
    head = [
        '<span class="tt-title">span</span>',
        f"<code>{esc(node.span_id)}</code>",
        f'<span class="tt-kind tt-k-{esc(node.kind)}">{esc(node.kind)}</span>',
        f'<span class="tt-name">{esc(node.name)}</span>',
        f'<span class="tt-muted">in trace <code>{esc(node.trace_id)}</code></span>',
    ]
    if node.ancestors:
        path = shorten(" > ".join(a.name for a in reversed(node.ancestors)), 160)
        head.append(f'<span class="tt-muted">under {esc(path)}</span>')
    head.extend(
        f'<span class="tt-chip tt-score">★ {esc(format_score(s))}</span>'
        for s in node.scores.to_dict("records")
    )
    return _view(uid, "".join(head), _rows(uid, [node, *node.descendants], node))


def page(fragment: str, title: str = "tracetape") -> str:
    """A fragment wrapped as a whole HTML document (to write to a file and open)."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title></head><body>{fragment}</body></html>"
    )
