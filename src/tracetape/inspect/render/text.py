"""A trace as a tree: a rich renderable for terminals and a plain-text fallback.

One line per span: name, kind, model or tool, duration, tokens and, for a failed span,
its error in red. ``full=True`` adds each span's input and output under it, cut to
``max_chars`` with the cut marked.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import pandas as pd
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from tracetape.spans import semconv

if TYPE_CHECKING:
    from tracetape.inspect.span import SpanNode

SpanRow: TypeAlias = "Mapping[str, Any] | SpanNode"
"""A span as a row dict of the ``spans`` view or as a `SpanNode`."""

IO_ATTRIBUTES: frozenset[str] = frozenset(
    {
        semconv.INPUT,
        semconv.OUTPUT,
        semconv.INPUT_MESSAGES,
        semconv.OUTPUT_MESSAGES,
        semconv.TOOL_CALL_ARGUMENTS,
        semconv.TOOL_CALL_RESULT,
        semconv.RETRIEVAL_DOCUMENTS,
    }
)
"""Attributes that hold what the ``input``/``output`` columns show: not repeated."""

KIND_STYLES: dict[str, str] = {
    "graph": "bold magenta",
    "agent": "bold magenta",
    "workflow": "bold magenta",
    "node": "magenta",
    "chain": "blue",
    "llm": "bold cyan",
    "embedding": "cyan",
    "tool": "bold yellow",
    "retriever": "green",
    "prompt": "blue",
}


def value(raw: Any) -> Any:
    """A DataFrame cell as a plain value: NaN/NA/NaT become None."""
    if raw is None or isinstance(raw, list | tuple | dict):
        return raw
    try:
        missing = pd.isna(raw)
    except (TypeError, ValueError):
        return raw
    return None if missing is True else raw


def format_duration(ms: Any) -> str:
    """``12.3 ms`` below a second, ``1.23 s`` above; empty when unknown."""
    ms = value(ms)
    if ms is None:
        return ""
    ms = float(ms)
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def format_tokens(input_tokens: Any, output_tokens: Any, unit: str = " tok") -> str:
    """``46→24 tok`` (input→output); empty when neither is known."""
    tokens_in, tokens_out = value(input_tokens), value(output_tokens)
    if tokens_in is None and tokens_out is None:
        return ""
    left = "?" if tokens_in is None else str(int(tokens_in))
    right = "?" if tokens_out is None else str(int(tokens_out))
    return f"{left}→{right}{unit}"


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``, the cut marked with how much was left out."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}… [+{len(text) - max_chars} chars]"


def _payload(raw: Any) -> str | None:
    raw = value(raw)
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return raw
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False, default=str)


def format_score(score: Mapping[str, Any]) -> str:
    """``name=label`` or ``name=value`` (3 significant digits) for one score row."""
    label = value(score.get("label"))
    raw = value(score.get("value"))
    if label is not None:
        shown = str(label)
    elif isinstance(raw, float):
        shown = f"{raw:.3g}"
    else:
        shown = "" if raw is None else str(raw)
    return f"{value(score.get('name')) or 'score'}={shown}"


def score_labels(scores: pd.DataFrame | None) -> dict[str | None, list[str]]:
    """Formatted scores by span id (``None``: the trace's own), the latest per name."""
    latest: dict[tuple[str | None, str], str] = {}
    if scores is None or scores.empty:
        return {}
    if "created_at" in scores:
        scores = scores.sort_values("created_at", kind="stable", na_position="first")
    for row in scores.to_dict("records"):
        span_id = value(row.get("span_id"))
        key = (None if span_id is None else str(span_id), str(value(row.get("name"))))
        latest[key] = format_score(row)  # a name scored again shows its latest value
    out: dict[str | None, list[str]] = {}
    for (span_id, _), shown in latest.items():
        out.setdefault(span_id, []).append(shown)
    return out


def span_label(span: SpanRow, scores: Iterable[str] = ()) -> Text:
    """One span's line: name, kind, model/tool, duration, tokens, status/error."""
    kind = str(value(span.get("kind")) or "chain")
    status = value(span.get("status"))
    label = Text()
    label.append(
        str(value(span.get("name")) or "?"), style="bold red" if status == "error" else "bold"
    )
    label.append(f"  {kind}", style=KIND_STYLES.get(kind, "dim"))
    name = str(value(span.get("name")) or "")
    model = value(span.get("model"))
    tool = value(span.get("tool_name"))
    if model and str(model) not in name:
        label.append(f"  {model}", style="cyan")
    elif tool and tool != name:
        label.append(f"  {tool}", style="yellow")
    if kind == "tool":
        arguments = _payload(span.get("input"))
        if arguments:
            label.append(f"  {shorten(arguments, 60)}", style="yellow")
    duration = format_duration(span.get("duration_ms"))
    if duration:
        label.append(f"  {duration}", style="dim")
    tokens = format_tokens(span.get("input_tokens"), span.get("output_tokens"))
    if tokens:
        label.append(f"  {tokens}", style="green")
    if status == "error":
        error = value(span.get("error_type")) or "error"
        message = value(span.get("status_message"))
        label.append(f"  ✗ {error}", style="bold red")
        if message:
            label.append(f": {shorten(str(message), 200)}", style="red")
    for score in scores:
        label.append(f"  ★ {score}", style="bold blue")
    return label


def _add_payloads(node: Tree, span: SpanRow, max_chars: int) -> None:
    for key in ("input", "output"):
        text = _payload(span.get(key))
        if text is not None:
            line = Text(f"{key}: ", style="dim bold")
            line.append(shorten(text, max_chars), style="dim")
            node.add(line)


def spans_tree(
    title: Text | str,
    walk: Iterable[tuple[int, SpanRow]],
    *,
    full: bool = False,
    max_chars: int = 800,
    scores: Mapping[str | None, list[str]] | None = None,
) -> Tree:
    """A rich ``Tree`` under ``title`` from (depth, span) pairs in tree order."""
    tree = Tree(title, guide_style="dim")
    path: list[Tree] = [tree]
    scores = scores or {}
    for depth, span in walk:
        del path[depth + 1 :]
        node = path[-1].add(span_label(span, scores.get(value(span.get("span_id")), ())))
        if full:
            _add_payloads(node, span, max_chars)
        path.append(node)
    return tree


def trace_title(trace_id: str, spans: pd.DataFrame, scores: pd.DataFrame | None = None) -> Text:
    """The tree's top line: trace id, span count, error count, the trace's own scores."""
    title = Text("trace ", style="dim")
    title.append(trace_id, style="bold")
    errors = sum(1 for status in spans["status"] if status == "error") if "status" in spans else 0
    title.append(f"  {len(spans)} spans", style="dim")
    if errors:
        title.append(f"  {errors} error{'s' if errors > 1 else ''}", style="bold red")
    for score in score_labels(scores).get(None, []):
        title.append(f"  ★ {score}", style="bold blue")
    return title


def span_detail_tree(node: SpanNode, *, max_chars: int = 2000, attr_chars: int = 300) -> Tree:
    """One span in full: its line, error, input, output, scores and every attribute,
    then the spans under it (one line each)."""
    title = Text("span ", style="dim")
    title.append(node.span_id, style="bold")
    title.append(f"  trace {node.trace_id}", style="dim")
    if node.ancestors:
        above = " > ".join(a.name for a in reversed(node.ancestors))
        title.append(f"  under {shorten(above, 120)}", style="dim")
    tree = Tree(title, guide_style="dim")
    own = tree.add(span_label(node, [format_score(s) for s in node.scores.to_dict("records")]))
    if node.failed and node.status_message and len(node.status_message) > 200:
        line = Text("error: ", style="bold red")
        line.append(shorten(node.status_message, max_chars), style="red")
        own.add(line)
    _add_payloads(own, node, max_chars)
    attributes = own.add(Text(f"attributes ({len(node.attributes)})", style="dim bold"))
    for key in sorted(node.attributes):
        line = Text(f"{key}: ", style="dim")
        if key in IO_ATTRIBUTES:
            line.append("(shown as input/output)", style="dim italic")
        else:
            line.append(shorten(_payload(node.attributes[key]) or "null", attr_chars))
        attributes.add(line)
    path: list[Tree] = [own]
    base = node.depth
    for below in node.descendants:
        del path[below.depth - base :]
        path.append(path[-1].add(span_label(below)))
    return tree


def to_plain(renderable: Any, width: int = 100) -> str:
    """Any rich renderable as plain text (no colour, no control codes)."""
    buffer = io.StringIO()
    # force_jupyter=False: in a kernel rich would also print the tree into the cell.
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, force_jupyter=False
    )
    console.print(renderable)
    return buffer.getvalue()
