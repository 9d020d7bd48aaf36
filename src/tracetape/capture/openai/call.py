"""One recorded ``chat.completions.create`` call: its llm span from start to end.

`begin` opens the span under the ambient parent (the innermost LangGraph node or tool
span of this context, or the user's own OpenTelemetry span); `ModelCall` ends it exactly
once, whichever way the call ends: a response, an error, a stream run to its end or
closed early. Payloads for replay are attached when the span ends, as the LangChain
path does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span, SpanKind

from tracetape._safety import attempt
from tracetape.capture.openai import request, response
from tracetape.spans import kinds, semconv
from tracetape.spans.outcome import end_span, provider_error_attributes, record_error
from tracetape.spans.recorder import Recorder, ambient_parent


class ModelCall:
    """The open span of one call and what its end needs."""

    def __init__(self, recorder: Recorder, span: Span, blobs: dict[str, str]) -> None:
        self.recorder = recorder
        self.span = span
        self.blobs = blobs
        self.start_ns = time.perf_counter_ns()
        self._first_token = False
        self._done = False
        self._lock = threading.Lock()

    def first_token(self) -> None:
        """Note the first streamed token (once): time to first token."""
        if self._first_token:
            return
        self._first_token = True
        elapsed = (time.perf_counter_ns() - self.start_ns) / 1e6
        self.span.set_attribute(semconv.TIME_TO_FIRST_TOKEN_MS, elapsed)

    def succeed(self, completion: Mapping[str, Any]) -> None:
        """End with a response (a ``chat.completion`` dict): output, usage, status OK."""
        if self._done:
            return
        self._respond(completion)
        self.finish(ok=True)

    def stop_early(self, completion: Mapping[str, Any] | None) -> None:
        """End a stream the user closed or abandoned before its end: what arrived so far,
        marked incomplete and not replayable."""
        if self._done:
            return
        if completion is not None:
            self._respond(completion)
        self.span.set_attributes({semconv.INCOMPLETE: True, semconv.REPLAYABLE: False})
        self.finish(ok=False)

    def fail(self, error: BaseException, completion: Mapping[str, Any] | None = None) -> None:
        """End with an error: status, type, provider facts and a redacted traceback."""
        if self._done:
            return
        if completion is not None:
            self._respond(completion)
            self.span.set_attribute(semconv.REPLAYABLE, False)
        self.span.set_attributes(
            attempt("openai.error", lambda: provider_error_attributes(error), {})
        )
        record_error(self.span, error)
        self.finish(ok=False)

    def unread(self) -> None:
        """End a call whose response body the user reads later (raw / streamed-raw
        responses): the request is recorded, the response is not."""
        self.span.set_attribute(semconv.REPLAYABLE, False)
        self.finish(ok=True)

    def _respond(self, completion: Mapping[str, Any]) -> None:
        attrs = attempt("openai.response", lambda: response.response_attributes(completion), {})
        attrs.update(
            attempt(
                "openai.output",
                lambda: response.output_attributes(completion, self.recorder, self.blobs),
                {},
            )
        )
        self.span.set_attributes(attrs)

    def finish(self, ok: bool) -> None:
        """End the span once; attach the payloads this process has not sent before."""
        with self._lock:
            if self._done:
                return
            self._done = True
        end_span(self.span, self.blobs, self.recorder.content, ok=ok)


def begin(recorder: Recorder, resource: object, kwargs: Mapping[str, Any]) -> ModelCall:
    """Open the llm span of a call to ``resource.create(**kwargs)``."""
    given = request.given(kwargs)
    attrs: dict[str, Any] = {
        semconv.KIND: kinds.LLM,
        semconv.OPERATION_NAME: "chat",
    }
    attrs.update(attempt("openai.client", lambda: request.client_attributes(resource), {}))
    attrs.update(attempt("openai.params", lambda: request.param_attributes(given, recorder), {}))
    blobs: dict[str, str] = {}
    attrs.update(
        attempt("openai.messages", lambda: request.message_attributes(given, recorder, blobs), {})
    )
    parent = ambient_parent()
    model = attrs.get(semconv.REQUEST_MODEL)
    name = f"chat {model}" if model else "chat"
    span = recorder.tracer.start_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attrs)
    return ModelCall(recorder, span, blobs)
