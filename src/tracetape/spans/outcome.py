"""How a span ends: an error recorded with its secrets redacted, or payloads attached.

Every capture path (LangChain, LlamaIndex, the OpenAI SDK, user spans, embeddings) ends
its spans through these functions, so an error message or traceback never reaches a
tape unredacted and payload blobs are always attached the same way.
"""

from __future__ import annotations

import traceback
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from tracetape.spans import semconv
from tracetape.spans.content import ContentStore
from tracetape.spans.encode import dumps, qualname
from tracetape.spans.redact import redact_text

_MAX_STATUS_CHARS = 2000
_MAX_CAUSES = 4


def record_error(span: Span, error: BaseException) -> None:
    """Error status, ``error.type`` and an exception event, message and traceback redacted."""
    message = redact_text(str(error))
    span.set_status(Status(StatusCode.ERROR, message[:_MAX_STATUS_CHARS]))
    span.set_attribute(semconv.ERROR_TYPE, qualname(type(error)))
    stack = "".join(traceback.format_exception(error))
    span.record_exception(
        error,
        attributes={"exception.message": message, "exception.stacktrace": redact_text(stack)},
    )


def end_span(span: Span, blobs: dict[str, str], content: ContentStore, *, ok: bool) -> None:
    """End ``span``; payloads this process has not sent before ride on it (then sent)."""
    if ok:
        span.set_status(Status(StatusCode.OK))
    if blobs:
        span.set_attribute(semconv.BLOBS, dumps(blobs))
    span.end()
    if blobs:
        content.mark_sent(list(blobs))


def provider_error_attributes(error: BaseException) -> dict[str, Any]:
    """HTTP status, provider error code and request id of a failed provider call.

    Reads what provider SDK errors carry (``openai.APIStatusError``: ``status_code``,
    ``code``, ``type``, ``request_id``; others alike), following the ``__cause__`` chain
    a few steps, since frameworks wrap the provider's error.
    """
    attrs: dict[str, Any] = {}
    current: BaseException | None = error
    for _ in range(_MAX_CAUSES):
        if current is None:
            break
        status = getattr(current, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            attrs.setdefault(semconv.HTTP_STATUS_CODE, status)
        code = getattr(current, "code", None) or getattr(current, "type", None)
        if isinstance(code, str | int) and not isinstance(code, bool) and code:
            attrs.setdefault(semconv.MODEL_ERROR_CODE, str(code))
        request_id = getattr(current, "request_id", None)
        if isinstance(request_id, str) and request_id:
            attrs.setdefault(semconv.MODEL_REQUEST_ID, request_id)
        current = current.__cause__
    return attrs
