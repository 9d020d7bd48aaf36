"""Embedding calls as spans. LangChain has no embedding callbacks, so every
``Embeddings`` subclass's ``embed_documents`` / ``embed_query`` (and async forms) is
wrapped, here and only here. A call records when a retriever span is running in the
same context, or when tracetape is instrumented process-wide.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from tracetape._safety import attempt
from tracetape.capture.langchain.retrievers import _embedding_model, current_embedding_parent
from tracetape.spans import kinds, semconv
from tracetape.spans.recorder import Recorder, ambient_parent

_lock = threading.Lock()
# Set while an embedding span is open: a wrapped method that calls another wrapped one
# (aembed_query -> embed_query, a subclass calling super()) records one span, not two.
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("tracetape_embedding", default=False)
_METHODS = ("embed_documents", "embed_query", "aembed_documents", "aembed_query")


def _target(instance: Any) -> tuple[Recorder, Context | None] | None:
    parent = current_embedding_parent.get()
    if parent is not None:
        span, recorder = parent
        return recorder, trace.set_span_in_context(span, Context())
    from tracetape.capture.langchain._inject import instrumented_handler

    handler = instrumented_handler()
    if handler is None:
        return None
    return handler.recorder, ambient_parent()


def _start(instance: Any, method: str, texts: Any) -> Span | None:
    target = _target(instance)
    if target is None:
        return None
    recorder, context = target
    count = len(texts) if isinstance(texts, list | tuple) else 1
    model = _embedding_model(instance) or type(instance).__name__
    attrs: dict[str, Any] = {
        semconv.KIND: kinds.EMBEDDING,
        semconv.OPERATION_NAME: kinds.OPERATIONS[kinds.EMBEDDING],
        semconv.REQUEST_MODEL: model.split(":", 1)[-1],
        semconv.MODEL_CLASS: model.split(":", 1)[0],
        semconv.EMBEDDING_INPUT_COUNT: count,
        "tracetape.embedding.method": method,
    }
    return recorder.tracer.start_span(
        f"embeddings {type(instance).__name__}", context=context, kind=SpanKind.CLIENT, attributes=attrs
    )


def _finish(span: Span | None, result: Any) -> None:
    if span is None:
        return

    def dims() -> int | None:
        first = result[0] if result and isinstance(result[0], list | tuple) else result
        return len(first) if isinstance(first, list | tuple) else None

    dimension = attempt("embeddings.dims", dims, None)
    if dimension is not None:
        span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimension)
    span.end()


def _fail(span: Span | None, error: BaseException) -> None:
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    from tracetape.spans.encode import qualname

    span.set_status(Status(StatusCode.ERROR, str(error)[:2000]))
    span.set_attribute(semconv.ERROR_TYPE, qualname(type(error)))
    span.end()


def _wrap(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    if method.startswith("a"):

        @functools.wraps(original)
        async def awrapper(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
            if _active.get():
                return await original(self, texts, *args, **kwargs)
            span = attempt("embeddings.start", lambda: _start(self, method, texts), None)
            token = _active.set(True)
            try:
                result = await original(self, texts, *args, **kwargs)
            except BaseException:
                attempt("embeddings.fail", lambda: _fail(span, exc), None)
                raise
            finally:
                _active.reset(token)
            attempt("embeddings.end", lambda: _finish(span, result), None)
            return result

        awrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
        return awrapper

    @functools.wraps(original)
    def wrapper(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
        if _active.get():
            return original(self, texts, *args, **kwargs)
        span = attempt("embeddings.start", lambda: _start(self, method, texts), None)
        token = _active.set(True)
        try:
            result = original(self, texts, *args, **kwargs)
        except BaseException:
            attempt("embeddings.fail", lambda: _fail(span, exc), None)
            raise
        finally:
            _active.reset(token)
        attempt("embeddings.end", lambda: _finish(span, result), None)
        return result

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def patch_class(cls: type) -> None:
    """Wrap the embedding methods ``cls`` itself defines (idempotent)."""
    with _lock:
        for method in _METHODS:
            original = cls.__dict__.get(method)
            if original is None or hasattr(original, "__tracetape_original__"):
                continue
            setattr(cls, method, _wrap(original, method))


def _all_subclasses(cls: type) -> list[type]:
    out: list[type] = []
    stack = [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            out.append(sub)
            stack.append(sub)
    return out


def ensure_patched() -> None:
    """Wrap every Embeddings class known now, and every one defined later."""
    from langchain_core.embeddings import Embeddings

    for cls in [Embeddings, *_all_subclasses(Embeddings)]:
        patch_class(cls)
    if not getattr(Embeddings, "__tracetape_hooked__", False):
        previous = Embeddings.__dict__.get("__init_subclass__")

        def init_subclass(cls: type, **kwargs: Any) -> None:
            if previous is not None:
                previous.__func__(cls, **kwargs)
            else:
                super(Embeddings, cls).__init_subclass__(**kwargs)
            patch_class(cls)

        Embeddings.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]
        Embeddings.__tracetape_hooked__ = True  # type: ignore[attr-defined]
