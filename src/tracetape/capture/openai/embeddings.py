"""The ``openai`` SDK's ``embeddings.create``, called directly, as embedding spans.

Installed with the chat wrappers (`instrument_openai`): while a recorder is set, each
call becomes an embedding span under the ambient parent, unless the innermost capture
span is already an embedding span (``langchain_openai.OpenAIEmbeddings`` calls this SDK
inside its own recorded call, which must not be recorded twice).

The span keeps, for replay, the request as sent (model, input, dimensions, encoding
format; redacted) and the response's model, usage and vectors (see
`tracetape.spans.vectors`). A request too long to keep still marks the call's place; a
response too big to keep (a corpus) is embedded again by a replay. As with chat, the
SDK call itself runs exactly as without tracetape and its result reaches the caller
unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import functools
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.trace import Span, SpanKind

from tracetape._safety import attempt
from tracetape.capture.openai import _compat, request
from tracetape.spans import kinds, semconv, vectors
from tracetape.spans.encode import dumps, redacted_dumps, rough_size, to_jsonable
from tracetape.spans.outcome import end_span, provider_error_attributes, record_error
from tracetape.spans.recorder import Recorder, ambient_parent, current_capture_span

METHOD: Final = semconv.SDK_EMBEDDING_METHOD
"""The ``tracetape.embedding.method`` of these spans."""
_TRANSPORT: Final = frozenset({"extra_headers", "extra_query", "timeout"})


def materialised(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with a one-shot ``input`` (a generator of tokens or of token lists)
    made lists, so that recording or matching it does not consume what the SDK sends."""
    value = kwargs.get("input")
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Sequence):
        kwargs["input"] = [
            list(item) if isinstance(item, Iterable) and not isinstance(item, str | bytes) else item  # pyright: ignore[reportUnknownArgumentType]
            for item in value  # pyright: ignore[reportUnknownVariableType]
        ]
    return kwargs


def request_text(kwargs: Mapping[str, Any]) -> str:
    """The request as kept for replay (and compared by it): what is sent (model, input,
    dimensions, encoding format, ``extra_body``), redacted."""
    sent = {k: v for k, v in request.given(kwargs).items() if k not in _TRANSPORT}
    return redacted_dumps(to_jsonable(sent))


def _input_count(value: Any) -> int:
    if isinstance(value, list | tuple) and value and not isinstance(value[0], int):
        return len(value)  # pyright: ignore[reportUnknownArgumentType]
    return 1  # one text, or one token array


@dataclass
class _Call:
    recorder: Recorder
    span: Span
    blobs: dict[str, str] = field(default_factory=dict[str, str])


def _begin(recorder: Recorder, resource: object, kwargs: Mapping[str, Any]) -> _Call:
    given = request.given(kwargs)
    model = given.get("model")
    attrs: dict[str, Any] = {
        semconv.KIND: kinds.EMBEDDING,
        semconv.OPERATION_NAME: kinds.OPERATIONS[kinds.EMBEDDING],
        semconv.EMBEDDING_METHOD: METHOD,
        semconv.EMBEDDING_INPUT_COUNT: _input_count(given.get("input")),
    }
    if model:
        attrs[semconv.REQUEST_MODEL] = str(model)
    attrs.update(attempt("openai.client", lambda: request.client_attributes(resource), {}))
    span = recorder.tracer.start_span(
        f"embeddings {model}" if model else "embeddings",
        context=ambient_parent(),
        kind=SpanKind.CLIENT,
        attributes=attrs,
    )
    call = _Call(recorder, span)
    if recorder.settings.capture_content:
        # An input too long to keep is not serialised at all: it keeps its place only.
        short = rough_size(given.get("input")) <= recorder.content.max_bytes
        kept = recorder.content.put(request_text(kwargs), call.blobs) if short else None
        span.set_attribute(semconv.REPLAY_INPUT, dumps([kept] if kept else []))
    return call


_MAX_ENCODED_CHARS = vectors.MAX_NUMBERS * 16 // 3
"""Base64 vectors (float32, as the caller asked for them) kept at most: as many numbers."""


def parsed(result: Any, kwargs: Mapping[str, Any]) -> Any:
    """The ``CreateEmbeddingResponse`` of a call: the result, or for ``with_raw_response``
    what it parses to (cached by the SDK for the caller); None for a streamed raw
    response, whose body the caller reads later."""
    mode = _compat.response_mode(kwargs)
    if mode == "raw":
        return _compat.parse_raw(result)
    return result if mode == "parsed" else None


def stored_response(response: Any) -> dict[str, Any] | None:
    """A ``CreateEmbeddingResponse`` as kept for replay: its vectors packed (or, when
    the caller asked for ``encoding_format="base64"``, the strings as they came), model
    and usage; None when there is none or it holds too much."""
    data = getattr(response, "data", None)
    if not isinstance(data, list):
        return None
    found = [getattr(item, "embedding", None) for item in data]  # pyright: ignore[reportUnknownVariableType]
    stored: dict[str, Any] = {}
    if found and all(isinstance(e, str) for e in found):
        if sum(len(e) for e in found) > _MAX_ENCODED_CHARS:  # pyright: ignore[reportArgumentType]
            return None
        stored["encoded"] = found
    else:
        packed = vectors.pack(found)
        if packed is None:
            return None
        stored["vectors"] = packed
    usage: Any = getattr(response, "usage", None)
    dump = getattr(usage, "model_dump", None)
    stored["model"] = getattr(response, "model", None)
    stored["usage"] = to_jsonable(dump()) if callable(dump) else None
    return stored


def response_body(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The ``/embeddings`` response body a kept response stands for."""
    rows = stored["encoded"] if "encoded" in stored else vectors.unpack(stored["vectors"])
    data = [{"object": "embedding", "index": i, "embedding": row} for i, row in enumerate(rows)]
    return {"object": "list", "data": data, "model": stored["model"], "usage": stored["usage"]}


def _end(call: _Call, result: Any, kwargs: Mapping[str, Any]) -> None:
    result = parsed(result, kwargs)
    attrs: dict[str, Any] = {}
    model = getattr(result, "model", None)
    if isinstance(model, str):
        attrs[semconv.RESPONSE_MODEL] = model
    tokens = getattr(getattr(result, "usage", None), "prompt_tokens", None)
    if isinstance(tokens, int):
        attrs[semconv.USAGE_INPUT_TOKENS] = tokens
    data = getattr(result, "data", None)
    first = getattr(data[0], "embedding", None) if isinstance(data, list) and data else None
    if isinstance(first, list):
        attrs[semconv.EMBEDDINGS_DIMENSION_COUNT] = len(first)  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(first, str):  # base64 of float32, as asked for
        attrs[semconv.EMBEDDINGS_DIMENSION_COUNT] = len(base64.b64decode(first)) // 4
    stored = stored_response(result) if call.recorder.settings.capture_content else None
    digest = call.recorder.content.put(dumps(stored), call.blobs) if stored else None
    if digest is not None:
        attrs[semconv.REPLAY_OUTPUT] = dumps([digest])
    call.span.set_attributes(attrs)
    end_span(call.span, call.blobs, call.recorder.content, ok=True)


def _fail(call: _Call, error: BaseException) -> None:
    if isinstance(error, Exception):  # not a cancellation, which is not the call's error
        call.span.set_attributes(provider_error_attributes(error))
        record_error(call.span, error)
    end_span(call.span, call.blobs, call.recorder.content, ok=False)


def _start(recorder: Recorder | None, resource: object, kwargs: Mapping[str, Any]) -> _Call | None:
    if recorder is None:
        return None
    inner = current_capture_span.get()
    if inner is not None and inner.is_recording():
        attributes: Mapping[str, Any] = getattr(inner, "attributes", None) or {}
        if attributes.get(semconv.KIND) == kinds.EMBEDDING:
            return None  # a LangChain embedding call recorded it
    return attempt("openai.embeddings.begin", lambda: _begin(recorder, resource, kwargs), None)


@contextlib.contextmanager
def _calling(call: _Call) -> Generator[None]:
    """While the SDK call runs: its span is innermost, and an error ends it."""
    token = current_capture_span.set(call.span)
    try:
        yield
    except BaseException as error:
        attempt("openai.embeddings.fail", functools.partial(_fail, call, error), None)
        raise
    finally:
        current_capture_span.reset(token)


def run(
    recorder: Recorder | None, resource: object, kwargs: dict[str, Any], send: Callable[[], Any]
) -> Any:
    """``send()`` (the SDK call) recorded as an embedding span through ``recorder`` (None:
    not recorded), unless an embedding span already covers it."""
    call = _start(recorder, resource, kwargs)
    if call is None:
        return send()
    with _calling(call):
        result = send()
    attempt("openai.embeddings.end", lambda: _end(call, result, kwargs), None)
    return result


async def arun(
    recorder: Recorder | None,
    resource: object,
    kwargs: dict[str, Any],
    send: Callable[[], Awaitable[Any]],
) -> Any:
    """`run` for the async client."""
    call = _start(recorder, resource, kwargs)
    if call is None:
        return await send()
    with _calling(call):
        result = await send()
    attempt("openai.embeddings.end", lambda: _end(call, result, kwargs), None)
    return result


def wrap_sync(
    original: Callable[..., Any], recorder: Callable[[], Recorder | None]
) -> Callable[..., Any]:
    """The recording wrapper of ``Embeddings.create``."""

    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs = materialised(kwargs)
        return run(recorder(), self, kwargs, lambda: original(self, *args, **kwargs))

    return create


def wrap_async(
    original: Callable[..., Awaitable[Any]], recorder: Callable[[], Recorder | None]
) -> Callable[..., Awaitable[Any]]:
    """The recording wrapper of ``AsyncEmbeddings.create``."""

    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs = materialised(kwargs)
        return await arun(recorder(), self, kwargs, lambda: original(self, *args, **kwargs))

    return create
