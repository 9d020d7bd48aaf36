"""HTML building blocks of the trace view: escaped text, JSON, tables, chat transcripts.

Recorded content is untrusted: every value goes through `esc` (``html.escape`` with
quotes) before it reaches the page, and nothing rendered can load a resource (a URI
in a message is shown as text, never as ``src`` or ``href``). Long values are cut to a
per-field limit and the cut is said.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

FIELD_CHARS: Final = 4000
"""Characters shown of one text field (a message, a document, a JSON value)."""
ATTRIBUTE_CHARS: Final = 1000
"""Characters shown of one attribute in the "all attributes" table."""
MAX_MESSAGES: Final = 40
"""Messages shown of one transcript: the first two and the latest ones."""
MAX_ITEMS: Final = 50
"""Rows shown of one table (documents, variables)."""


def esc(text: object) -> str:
    """``text`` as HTML text: ``<``, ``>``, ``&`` and both quotes escaped."""
    return html.escape(str(text), quote=True)


def cut_note(shown: int, total: int, what: str = "chars") -> str:
    """The marker of a cut: how much of what was left out."""
    return f'<span class="tt-cut">… {total - shown:,} more {what} not shown</span>'


def clip(text: str, limit: int = FIELD_CHARS) -> str:
    """``text`` escaped and cut to ``limit`` characters, the cut marked."""
    if len(text) <= limit:
        return esc(text)
    return esc(text[:limit]) + cut_note(limit, len(text))


def dumps(data: Any, *, indent: int | None = 2) -> str:
    """JSON text of ``data`` (non-JSON values by ``str``), unicode kept."""
    return json.dumps(data, ensure_ascii=False, indent=indent, default=str)


def recorded_cut(data: Any) -> Mapping[str, Any] | None:
    """The marker the recorder leaves on a value it cut (``tracetape.truncated``)."""
    if isinstance(data, Mapping) and data.get("tracetape.truncated") is True:
        return data  # pyright: ignore[reportUnknownVariableType]
    return None


def value_html(data: Any, limit: int = FIELD_CHARS) -> str:
    """Any JSON value: text as text, structures as indented JSON, in a ``<pre>``."""
    marker = recorded_cut(data)
    if marker is not None:
        head = str(marker.get("head", ""))
        note = (
            f'<span class="tt-cut">recorded cut to {marker.get("shown_chars")} of '
            f"{marker.get('total_chars')} chars when it was captured</span>"
        )
        return f"<pre>{clip(head, limit)}</pre>{note}"
    if data is None:
        return '<span class="tt-muted">null</span>'
    if isinstance(data, bool | int | float):
        return f"<code>{esc(dumps(data))}</code>"
    text = data if isinstance(data, str) else dumps(data)
    return f"<pre>{clip(text, limit)}</pre>"


def inline(data: Any, limit: int = 300) -> str:
    """A short value for a table cell: scalars as they are, structures as compact JSON."""
    if isinstance(data, str):
        return clip(data, limit)
    if isinstance(data, list) and all(isinstance(x, str | int | float) for x in data):
        return clip(", ".join(str(x) for x in data), limit)  # pyright: ignore[reportUnknownVariableType]
    return f"<code>{clip(dumps(data, indent=None), limit)}</code>"


def kv_table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of (label, HTML) rows; empty when there are none."""
    body = "".join(f"<tr><th>{esc(label)}</th><td>{cell}</td></tr>" for label, cell in rows)
    return f'<table class="tt-kv">{body}</table>' if body else ""


def section(title: str, content: str, *, collapsed: bool = False) -> str:
    """A titled block; ``collapsed`` puts it behind a ``<details>`` of its own."""
    if not content:
        return ""
    if collapsed:
        return f'<details class="tt-more"><summary>{esc(title)}</summary>{content}</details>'
    return f'<div class="tt-sec"><h4>{esc(title)}</h4>{content}</div>'


# -- chat messages ------------------------------------------------------------------------
def is_messages(data: Any) -> bool:
    """Whether ``data`` is a list of chat messages (GenAI ``role``/``parts`` shape, or
    LangChain's ``(role, text)`` pairs)."""
    if not isinstance(data, list) or not data:
        return False
    return all(_message_like(m) for m in data)  # pyright: ignore[reportUnknownVariableType]


def _message_like(item: Any) -> bool:
    if isinstance(item, Mapping):
        return "role" in item and isinstance(item.get("parts", []), list)
    return (
        isinstance(item, list | tuple)
        and len(item) == 2  # pyright: ignore[reportUnknownArgumentType]
        and isinstance(item[0], str)
    )


def _part_html(part: Any) -> str:
    if not isinstance(part, Mapping):
        return value_html(part)
    kind = str(part.get("type", ""))
    if kind == "text":
        return f'<div class="tt-text">{clip(str(part.get("content") or ""))}</div>'
    if kind == "tool_call":
        bad = ' <span class="tt-status">invalid arguments</span>' if part.get("invalid") else ""
        error = value_html(part["error"]) if part.get("error") else ""
        return (
            f'<div class="tt-call">→ calls <b>{esc(part.get("name"))}</b> '
            f'<code class="tt-muted">{esc(part.get("id") or "")}</code>{bad}'
            f"{value_html(part.get('arguments'))}{error}</div>"
        )
    if kind == "tool_call_response":
        return (
            f'<div class="tt-call">← result of <code class="tt-muted">{esc(part.get("id") or "")}'
            f"</code>{value_html(part.get('response'))}</div>"
        )
    if kind == "reasoning":
        return section("reasoning", value_html(part.get("content")), collapsed=True)
    if kind == "refusal":
        refusal = clip(str(part.get("content") or ""))
        return f'<div class="tt-text tt-status">refusal: {refusal}</div>'
    if kind in ("uri", "blob", "file"):
        # Shown as text on purpose: an <img src> would load it.
        facts = {k: v for k, v in part.items() if k != "type"}
        return f'<div class="tt-text tt-muted">[{esc(kind)}] {inline(facts)}</div>'
    return value_html(part)


def message_html(message: Any) -> str:
    """One chat message: its role (and name, finish reason) over its parts."""
    if not isinstance(message, Mapping):  # a LangChain (role, text) pair
        role, content = message[0], message[1]
        parts: Sequence[Any] = [{"type": "text", "content": content}]
        head = esc(role)
    else:
        role = str(message.get("role", "?"))
        parts = message.get("parts") or []
        if not parts and message.get("content") is not None:  # a provider's own shape
            content = message["content"]
            parts = [{"type": "text", "content": content} if isinstance(content, str) else content]
        head = esc(role)
        if message.get("name"):
            head += f' · <span class="tt-mono">{esc(message["name"])}</span>'
        if message.get("finish_reason"):
            head += f' · <span class="tt-muted">finish: {esc(message["finish_reason"])}</span>'
    body = "".join(_part_html(p) for p in parts) or '<span class="tt-muted">(empty)</span>'
    role_class = esc(str(role).lower().replace(" ", "-"))
    return (
        f'<div class="tt-msg tt-role-{role_class}"><div class="tt-msg-head">{head}</div>'
        f"{body}</div>"
    )


def transcript_html(messages: Sequence[Any], limit: int = MAX_MESSAGES) -> str:
    """Messages in order; past ``limit``, the first two and the latest, the gap marked."""
    if len(messages) <= limit:
        shown = [message_html(m) for m in messages]
    else:
        keep = limit - 2
        gap = len(messages) - limit
        shown = [message_html(m) for m in messages[:2]]
        shown.append(f'<span class="tt-cut">… {gap:,} earlier messages not shown</span>')
        shown.extend(message_html(m) for m in messages[-keep:])
    return f'<div class="tt-msgs">{"".join(shown)}</div>'


def payload_html(data: Any) -> str:
    """An input or output: a transcript for messages (also under a ``messages`` key),
    otherwise the value itself."""
    if is_messages(data):
        return transcript_html(data)
    if isinstance(data, Mapping) and is_messages(data.get("messages")):
        rest = {k: v for k, v in data.items() if k != "messages"}
        extra = section("other keys", value_html(rest)) if rest else ""
        return transcript_html(data["messages"]) + extra
    if isinstance(data, Mapping) and "role" in data and "parts" in data:  # one message
        return transcript_html([data])
    return value_html(data)
