"""A trace as a tree: a rich renderable for terminals and a plain-text fallback.

One line per span: name, kind, model or tool, duration, tokens and, for a failed span,
its error in red. ``full=True`` adds each span's input and output under it, cut to
``max_chars`` with the cut marked.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

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


def span_label(span: Mapping[str, Any]) -> Text:
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
    return label


def _add_payloads(node: Tree, span: Mapping[str, Any], max_chars: int) -> None:
    for key in ("input", "output"):
        text = _payload(span.get(key))
        if text is not None:
            line = Text(f"{key}: ", style="dim bold")
            line.append(shorten(text, max_chars), style="dim")
            node.add(line)


def spans_tree(
    title: Text | str,
    walk: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    full: bool = False,
    max_chars: int = 800,
) -> Tree:
    """A rich ``Tree`` under ``title`` from (depth, span) pairs in tree order."""
    tree = Tree(title, guide_style="dim")
    path: list[Tree] = [tree]
    for depth, span in walk:
        del path[depth + 1 :]
        node = path[-1].add(span_label(span))
        if full:
            _add_payloads(node, span, max_chars)
        path.append(node)
    return tree


def trace_title(trace_id: str, spans: pd.DataFrame) -> Text:
    """The tree's top line: trace id, span count, error count."""
    title = Text("trace ", style="dim")
    title.append(trace_id, style="bold")
    errors = sum(1 for status in spans["status"] if status == "error") if "status" in spans else 0
    title.append(f"  {len(spans)} spans", style="dim")
    if errors:
        title.append(f"  {errors} error{'s' if errors > 1 else ''}", style="bold red")
    return title


def to_plain(renderable: Any, width: int = 100) -> str:
    """Any rich renderable as plain text (no colour, no control codes)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return buffer.getvalue()
