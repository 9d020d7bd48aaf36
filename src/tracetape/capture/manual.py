"""``tracetape.span()``: the user's own steps, in the same trace as the agent's."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from opentelemetry import context as context_api
from opentelemetry import trace

from tracetape._safety import attempt
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import to_jsonable
from tracetape.spans.outcome import record_error
from tracetape.spans.recorder import Recorder, ambient_parent, current_capture_span

F = TypeVar("F", bound=Callable[..., Any])

_default: list[Recorder] = []


def set_default_recorder(recorder: Recorder | None) -> None:
    """The recorder `span` uses (the tape most recently opened or instrumented)."""
    _default.clear()
    if recorder is not None:
        _default.append(recorder)


def default_recorder() -> Recorder | None:
    """The recorder `span` uses, if any tape is open."""
    return _default[0] if _default else None


class UserSpan:
    """What ``with tracetape.span(...) as s`` gives: set attributes, inputs, outputs."""

    def __init__(self, span: trace.Span | None, recorder: Recorder | None) -> None:
        self._span = span
        self._recorder = recorder

    def set_attribute(self, key: str, value: Any) -> None:
        """Record one attribute (JSON-encoded unless a primitive)."""
        if self._span is None or self._recorder is None:
            return
        attrs: dict[str, Any] = {}
        if isinstance(value, str | bool | int | float):
            attrs[key] = value
        else:
            self._recorder.display(key, to_jsonable(value), attrs)
        self._span.set_attributes(attrs)

    def set_input(self, value: Any) -> None:
        """Record what this step received (shown as the span's input)."""
        self.set_attribute(semconv.INPUT, value if not isinstance(value, str) else [value])

    def set_output(self, value: Any) -> None:
        """Record what this step produced (shown as the span's output)."""
        self.set_attribute(semconv.OUTPUT, value if not isinstance(value, str) else [value])

    @property
    def trace_id(self) -> str | None:
        """The 32-hex trace id (to score the trace later), or None when nothing records."""
        if self._span is None:
            return None
        return format(self._span.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str | None:
        """The 16-hex span id, or None when nothing is recording."""
        if self._span is None:
            return None
        return format(self._span.get_span_context().span_id, "016x")


@contextmanager
def _span_cm(
    name: str, attributes: Mapping[str, Any] | None, kind: str
) -> Generator[UserSpan, None, None]:
    recorder = default_recorder()
    if recorder is None:
        yield UserSpan(None, None)
        return

    def start() -> trace.Span:
        attrs: dict[str, Any] = {
            semconv.KIND: kind,
            semconv.OPERATION_NAME: kinds.OPERATIONS.get(kind, kind),
            semconv.USER_SPAN: True,
        }
        for key, value in (attributes or {}).items():
            if isinstance(value, str | bool | int | float):
                attrs[key] = value
            else:
                recorder.display(key, to_jsonable(value), attrs)
        return recorder.tracer.start_span(name, context=ambient_parent(), attributes=attrs)

    span = attempt("span.start", start, None)
    if span is None:
        yield UserSpan(None, None)
        return
    token = current_capture_span.set(span)
    otel_token = context_api.attach(trace.set_span_in_context(span))
    try:
        yield UserSpan(span, recorder)
    except BaseException as exc:
        record_error(span, exc)
        raise
    finally:
        context_api.detach(otel_token)
        current_capture_span.reset(token)
        span.end()


class _SpanFactory:
    """Both a context manager and a decorator."""

    def __init__(self, name: str, attributes: Mapping[str, Any] | None, kind: str) -> None:
        self.name = name
        self.attributes = attributes
        self.kind = kind
        self._cm: Any = None

    def __enter__(self) -> UserSpan:
        self._cm = _span_cm(self.name, self.attributes, self.kind)
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        return self._cm.__exit__(*exc)

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                with _span_cm(self.name, self.attributes, self.kind):
                    return await fn(*args, **kwargs)

            return awrapper  # type: ignore[return-value]  # pyright: ignore[reportReturnType]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _span_cm(self.name, self.attributes, self.kind):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]  # pyright: ignore[reportReturnType]


@overload
def span(
    name: str, *, attributes: Mapping[str, Any] | None = None, kind: str = ...
) -> _SpanFactory: ...
@overload
def span(name: Callable[..., Any]) -> Callable[..., Any]: ...
def span(
    name: str | Callable[..., Any],
    *,
    attributes: Mapping[str, Any] | None = None,
    kind: str = kinds.CHAIN,
) -> Any:
    """Record a step of the user's own code as a span in the current trace.

    Works as a context manager and as a decorator (with or without a name). Exceptions
    are recorded on the span and re-raised unchanged.

    Example:
        >>> with tracetape.span("rerank", attributes={"k": 4}) as s:
        ...     s.set_output(["doc-1", "doc-2"])
        >>> @tracetape.span("load")
        ... def load(): ...
    """
    if callable(name):
        fn = name
        return _SpanFactory(getattr(fn, "__qualname__", "span"), None, kinds.CHAIN)(fn)
    return _SpanFactory(name, attributes, kind)
