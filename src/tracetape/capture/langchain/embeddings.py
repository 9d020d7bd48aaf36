"""Embedding calls as spans.

LangChain has no embedding callbacks, so every ``Embeddings`` subclass's
``embed_documents`` / ``embed_query`` (and async forms) is wrapped, here and only here.
A call records when a retriever span is open in the same context (it nests under it),
or when tracetape is instrumented process-wide (it nests under the ambient span: a
LangChain run, a ``tracetape.span()`` or the user's own OpenTelemetry span).

One logical call records one span: a wrapped method that calls another wrapped one
(``aembed_query`` running ``embed_query`` in an executor, an override calling
``super()``) finds the first span open in its context and calls straight through.
When nothing records, a wrapper costs two context-variable lookups.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from tracetape._safety import attempt
from tracetape.capture.langchain import _inject
from tracetape.capture.langchain.retrievers import embedding_model, embedding_parent
from tracetape.spans import kinds, semconv
from tracetape.spans.outcome import record_error
from tracetape.spans.recorder import Recorder, ambient_parent

# Set while an embedding span is open in this context.
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("tracetape_embedding", default=False)
METHODS = ("embed_documents", "embed_query", "aembed_documents", "aembed_query")


def _target() -> tuple[Recorder, Context | None] | None:
    """Where a call records: under the open retriever span, else ambient if instrumented."""
    parent = embedding_parent()
    if parent is not None:
        span, recorder = parent
        return recorder, trace.set_span_in_context(span, Context())
    handler = _inject.instrumented_handler()
    recorder = getattr(handler, "recorder", None)
    if not isinstance(recorder, Recorder):
        return None
    return recorder, ambient_parent()


def provider(cls: type) -> str | None:
    """``openai`` for ``langchain_openai.*`` classes; None for langchain-core's own."""
    package = cls.__module__.split(".", 1)[0]
    if package.startswith("langchain_") and package != "langchain_core":
        return package.removeprefix("langchain_")
    return None


def start_attributes(instance: Any, method: str, texts: Any) -> dict[str, Any]:
    """Kind, model, class, provider, method and number of texts of one call."""
    cls, model = embedding_model(instance)
    attrs: dict[str, Any] = {
        semconv.KIND: kinds.EMBEDDING,
        semconv.OPERATION_NAME: kinds.OPERATIONS[kinds.EMBEDDING],
        # A model without a name (a fake, a local class) is named by its class.
        semconv.REQUEST_MODEL: model or type(instance).__name__,
        semconv.MODEL_CLASS: cls,
        semconv.EMBEDDING_INPUT_COUNT: len(texts) if isinstance(texts, list | tuple) else 1,  # pyright: ignore[reportUnknownArgumentType]
        semconv.EMBEDDING_METHOD: method,
    }
    name = provider(type(instance))
    if name:
        attrs[semconv.PROVIDER_NAME] = name
    return attrs


def dimensions(result: Any) -> int | None:
    """Length of the (first) vector: ``embed_query`` returns one, ``embed_documents`` many."""
    if isinstance(result, list | tuple) and result:
        first: Any = result[0]
        if hasattr(first, "__len__") and not isinstance(first, str):
            return len(first)
        return len(result)  # pyright: ignore[reportUnknownArgumentType]
    return None


def _start(instance: Any, method: str, texts: Any) -> Span | None:
    target = _target()
    if target is None:
        return None
    recorder, context = target
    attrs = start_attributes(instance, method, texts)
    return recorder.tracer.start_span(
        f"embeddings {attrs[semconv.REQUEST_MODEL]}",
        context=context,
        kind=SpanKind.CLIENT,
        attributes=attrs,
    )


def _finish(span: Span, result: Any) -> None:
    dimension = dimensions(result)
    if dimension is not None:
        span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimension)
    span.set_status(Status(StatusCode.OK))
    span.end()


def _fail(span: Span, error: BaseException) -> None:
    record_error(span, error)
    span.end()


def _quiet() -> bool:
    """True when no span may open: one is open already, or nothing would record."""
    return _active.get() or (embedding_parent() is None and _inject.instrumented_handler() is None)


def wrap(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    """The recording wrapper of one ``Embeddings`` method."""
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def awrapper(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
            if _quiet():
                return await original(self, texts, *args, **kwargs)
            span = attempt("embeddings.start", lambda: _start(self, method, texts), None)
            if span is None:
                return await original(self, texts, *args, **kwargs)
            token = _active.set(True)
            try:
                result = await original(self, texts, *args, **kwargs)
            except BaseException as exc:
                attempt("embeddings.fail", functools.partial(_fail, span, exc), None)
                raise
            finally:
                _active.reset(token)
            attempt("embeddings.end", lambda: _finish(span, result), None)
            return result

        awrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
        return awrapper

    @functools.wraps(original)
    def wrapper(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
        if _quiet():
            return original(self, texts, *args, **kwargs)
        span = attempt("embeddings.start", lambda: _start(self, method, texts), None)
        if span is None:
            return original(self, texts, *args, **kwargs)
        token = _active.set(True)
        try:
            result = original(self, texts, *args, **kwargs)
        except BaseException as exc:
            attempt("embeddings.fail", functools.partial(_fail, span, exc), None)
            raise
        finally:
            _active.reset(token)
        attempt("embeddings.end", lambda: _finish(span, result), None)
        return result

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def ensure_patched() -> None:
    """Wrap every Embeddings class known now, and every one defined later."""
    from langchain_core.embeddings import Embeddings

    _inject.patch_hierarchy(Embeddings, METHODS, wrap)
