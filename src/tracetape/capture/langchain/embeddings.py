"""Embedding calls as spans.

LangChain has no embedding callbacks, so every ``Embeddings`` subclass's
``embed_documents`` / ``embed_query`` (and async forms) is wrapped, here and only here.
A call records when a retriever span is open in the same context (it nests under it),
when it runs inside a LangChain run the tape's handler records (a LangGraph node that
embeds the question itself), or when tracetape is instrumented process-wide (it nests
under the ambient span: a LangChain run, a ``tracetape.span()`` or the user's own
OpenTelemetry span).

A call outside a retriever also keeps its texts and vectors whole, for replay: a replay
answers it from the tape (through `set_answerer`) instead of contacting the provider.
A call inside a retriever needs neither: replay answers the retriever whole.

One logical call records one span: a wrapped method that calls another wrapped one
(``aembed_query`` running ``embed_query`` in an executor, an override calling
``super()``) finds the first span open in its context and calls straight through.
When nothing records, a wrapper costs two context-variable lookups.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from tracetape._safety import attempt
from tracetape.capture.langchain import _inject
from tracetape.capture.langchain.retrievers import embedding_model, embedding_parent
from tracetape.spans import kinds, semconv, vectors
from tracetape.spans.encode import dumps, redacted_dumps, rough_size
from tracetape.spans.outcome import end_span, record_error
from tracetape.spans.recorder import Recorder, ambient_parent, current_capture_span

# Set while an embedding span is open in this context.
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("tracetape_embedding", default=False)
METHODS = semconv.LANGCHAIN_EMBEDDING_METHODS


Answer = Callable[[Any, str, Any], "tuple[Any] | None"]
"""Given (embeddings object, method, texts): the recorded result as a 1-tuple, or None
to call the provider (replay sets one, see `set_answerer`)."""
_answerers: list[Answer] = []


def set_answerer(answer: Answer) -> None:
    """Let replay answer embedding calls made outside a retriever (set once)."""
    _answerers[:] = [answer]


def _answered(instance: Any, method: str, texts: Any) -> tuple[Any] | None:
    if not _answerers or embedding_parent() is not None:
        return None
    return _answerers[0](instance, method, texts)


def _run_recorder() -> Recorder | None:
    """The recorder of the tape's handler among the current LangChain run's callbacks."""
    from langchain_core.runnables.config import var_child_runnable_config

    from tracetape.capture.langchain.handler import TracetapeCallbackHandler

    config = var_child_runnable_config.get()
    callbacks: Any = config.get("callbacks") if config else None
    handlers: Any = getattr(callbacks, "handlers", callbacks)
    if not isinstance(handlers, list):
        return None
    for handler in handlers:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(handler, TracetapeCallbackHandler):
            return handler.recorder
    return None


def _target() -> tuple[Recorder, Context | None, bool] | None:
    """Where a call records, and whether it keeps its payloads: under the open retriever
    span (no payloads), else ambient under the tape's LangChain run or, when
    instrumented, under whatever span is open."""
    parent = embedding_parent()
    if parent is not None:
        span, recorder = parent
        return recorder, trace.set_span_in_context(span, Context()), False
    recorder = _run_recorder()
    if recorder is None:
        handler = _inject.instrumented_handler()
        found = getattr(handler, "recorder", None)
        recorder = found if isinstance(found, Recorder) else None
    if recorder is None:
        return None
    return recorder, ambient_parent(), recorder.settings.capture_content


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


@dataclass
class _Call:
    """One recording embedding call."""

    span: Span
    recorder: Recorder
    keep: bool
    """Whether its texts and vectors are kept whole (for replay)."""
    blobs: dict[str, str] = field(default_factory=dict[str, str])


def _start(instance: Any, method: str, texts: Any) -> _Call | None:
    target = _target()
    if target is None:
        return None
    recorder, context, keep = target
    attrs = start_attributes(instance, method, texts)
    call = _Call(
        recorder.tracer.start_span(
            f"embeddings {attrs[semconv.REQUEST_MODEL]}",
            context=context,
            kind=SpanKind.CLIENT,
            attributes=attrs,
        ),
        recorder,
        keep,
    )
    if keep:
        # Texts too long to keep still mark the call's place (a replay matches it by
        # position and embeds them for real), without the cost of serialising them.
        short = rough_size(texts) <= recorder.content.max_bytes
        kept = recorder.content.put(texts_json(texts), call.blobs) if short else None
        call.span.set_attribute(semconv.REPLAY_INPUT, dumps([kept] if kept else []))
    return call


def vectors_json(result: Any) -> str | None:
    """An embedding result as stored for replay (see `tracetape.spans.vectors`)."""
    packed = vectors.pack(result)
    return dumps(packed) if packed is not None else None


def texts_json(texts: Any) -> str:
    """The stored form of an embedding call's texts (a list, or one query), redacted:
    what a replay compares the texts it is asked for with."""
    return redacted_dumps(texts)


def _finish(call: _Call, result: Any) -> None:
    dimension = dimensions(result)
    if dimension is not None:
        call.span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimension)
    text = vectors_json(result) if call.keep else None  # numbers only: nothing to redact
    digest = call.recorder.content.put(text, call.blobs) if text is not None else None
    if digest is not None:
        call.span.set_attribute(semconv.REPLAY_OUTPUT, dumps([digest]))
    end_span(call.span, call.blobs, call.recorder.content, ok=True)


def _fail(call: _Call, error: BaseException) -> None:
    record_error(call.span, error)
    end_span(call.span, call.blobs, call.recorder.content, ok=False)


@contextlib.contextmanager
def _calling(call: _Call | None) -> Generator[None]:
    """While the wrapped method runs: nested wrappers call straight through, the SDK
    below (``openai``'s embeddings) sees this call's span as innermost, and an error
    ends the span."""
    token = _active.set(True)
    inner = current_capture_span.set(call.span) if call is not None else None
    try:
        yield
    except BaseException as exc:
        if call is not None:
            attempt("embeddings.fail", functools.partial(_fail, call, exc), None)
        raise
    finally:
        if inner is not None:
            current_capture_span.reset(inner)
        _active.reset(token)


def wrap(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    """The recording wrapper of one ``Embeddings`` method (replay may answer it)."""
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def awrapper(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
            if _active.get():
                return await original(self, texts, *args, **kwargs)
            call = attempt("embeddings.start", lambda: _start(self, method, texts), None)
            with _calling(call):
                answer = _answered(self, method, texts)
                result = answer[0] if answer else await original(self, texts, *args, **kwargs)
            if call is not None:
                attempt("embeddings.end", lambda: _finish(call, result), None)
            return result

        awrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
        return awrapper

    @functools.wraps(original)
    def wrapper(self: Any, texts: Any, *args: Any, **kwargs: Any) -> Any:
        if _active.get():
            return original(self, texts, *args, **kwargs)
        call = attempt("embeddings.start", lambda: _start(self, method, texts), None)
        with _calling(call):
            answer = _answered(self, method, texts)
            result = answer[0] if answer else original(self, texts, *args, **kwargs)
        if call is not None:
            attempt("embeddings.end", lambda: _finish(call, result), None)
        return result

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def ensure_patched() -> None:
    """Wrap every Embeddings class known now, and every one defined later."""
    from langchain_core.embeddings import Embeddings

    _inject.patch_hierarchy(Embeddings, METHODS, wrap)
