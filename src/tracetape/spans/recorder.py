"""What capture needs from a tape: a tracer, the content store and the settings.

Capture code receives a `Recorder` and knows nothing of DuckDB.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Tracer

from tracetape.settings import Settings
from tracetape.spans import semconv
from tracetape.spans.content import ContentStore
from tracetape.spans.encode import dumps, limit_json

# The innermost span tracetape's capture opened in this context (a LangChain run, a
# LlamaIndex span). Callback systems do not make their runs the ambient OpenTelemetry
# span, so user spans and nested frameworks look here too.
current_capture_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
    "tracetape_capture_span", default=None
)


@dataclass
class Recorder:
    """The handle capture code records through."""

    tracer: Tracer
    content: ContentStore
    settings: Settings

    def display(self, key: str, value: Any, attrs: dict[str, Any]) -> None:
        """Put a JSON-safe ``value`` under ``key`` as JSON, cut to the display limit.

        A string is a value like any other (it becomes a JSON string); use
        `display_json` for text that is already JSON.
        """
        self.display_json(key, dumps(value), attrs)

    def display_json(self, key: str, text: str, attrs: dict[str, Any]) -> None:
        """Put JSON ``text`` under ``key``, cut to the display limit (marked when cut)."""
        text, cut = limit_json(text, self.settings.max_display_chars)
        attrs[key] = text
        if cut:
            truncated = attrs.get(semconv.TRUNCATED)
            attrs[semconv.TRUNCATED] = (*truncated, key) if isinstance(truncated, tuple) else (key,)


def ambient_parent(sibling: Callable[[Span], bool] | None = None) -> Context | None:
    """The context a new root span should nest under: the latest-started live span.

    Either the user's own OpenTelemetry span (any provider) or the innermost span
    tracetape's capture opened in this context, unless ``sibling`` says that span is a
    peer of the new one rather than its parent.
    """
    otel_span = trace.get_current_span()
    capture_span = current_capture_span.get()
    if capture_span is not None and sibling is not None and sibling(capture_span):
        capture_span = None
    otel_ok = otel_span.get_span_context().is_valid
    capture_ok = capture_span is not None and capture_span.is_recording()
    chosen: Span
    if capture_span is not None and capture_ok and otel_ok and capture_span is not otel_span:
        capture_start = getattr(capture_span, "start_time", 0) or 0
        otel_start = getattr(otel_span, "start_time", 0) or 0
        chosen = capture_span if capture_start >= otel_start else otel_span
    elif capture_span is not None and capture_ok:
        chosen = capture_span
    elif otel_ok:
        chosen = otel_span
    else:
        return None
    return trace.set_span_in_context(chosen, Context())
