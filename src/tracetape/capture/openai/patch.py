"""The one place that wraps the ``openai`` SDK: ``chat.completions.create`` and ``.parse``
(and ``embeddings.create``, recorded by `tracetape.capture.openai.embeddings`).

The wrappers are installed once per process, on the resource classes, and stay; while
no recorder is set they call straight through (one global read). While one is set,
each call becomes an llm span, unless the innermost capture span of this context is
already an llm span: ``langchain_openai.ChatOpenAI`` calls this SDK inside its own
recorded model run, which must not be recorded twice.

Nothing in tracetape's own code reaches the user's: span work runs behind the error
boundary, the SDK call itself runs exactly as without tracetape, and its exceptions and
return values reach the caller unchanged (a stream is handed back as a recording
stand-in for it, see `stream`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from tracetape._safety import attempt, boundary
from tracetape.capture.openai import _compat, embeddings
from tracetape.capture.openai.call import ModelCall, begin
from tracetape.capture.openai.messages import as_dict
from tracetape.capture.openai.stream import TracedAsyncStream, TracedStream
from tracetape.spans import kinds, semconv
from tracetape.spans.recorder import Recorder, current_capture_span

_recorder: Recorder | None = None
_lock = threading.Lock()
_patched: list[tuple[type[Any], Callable[..., Any]]] = []
_ORIGINAL = "__tracetape_original__"


def instrument_openai(recorder: Recorder) -> bool:
    """Record every ``chat.completions.create`` / ``.parse`` and ``embeddings.create`` of
    ``openai`` through ``recorder``.

    Idempotent (a second call switches to the new recorder). Returns False, doing
    nothing, when ``openai`` is not installed.

    Example:
        >>> instrument_openai(tape.recorder)
        >>> OpenAI().chat.completions.create(model="gpt-4o", messages=[...])  # recorded
    """
    global _recorder
    with _lock:
        if not _patched:
            classes = _compat.completions_classes()
            if classes is None:
                return False
            sync_cls, async_cls = classes
            for method in _compat.METHODS:
                _install(sync_cls, method, _wrap_sync)
                _install(async_cls, method, _wrap_async)
            found = _compat.embeddings_classes()
            if found is not None:
                sync_embeddings, async_embeddings = found
                wrap = functools.partial(embeddings.wrap_sync, recorder=_current)
                _install(sync_embeddings, "create", wrap)
                awrap = functools.partial(embeddings.wrap_async, recorder=_current)
                _install(async_embeddings, "create", awrap)
        _recorder = recorder
    return True


def _current() -> Recorder | None:
    return _recorder


def uninstrument_openai() -> None:
    """Stop recording SDK calls; the wrappers stay and call straight through."""
    global _recorder
    with _lock:
        _recorder = None


def is_instrumented() -> bool:
    """Whether SDK calls are being recorded."""
    return _recorder is not None


def _install(
    cls: type[Any], method: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    original = cls.__dict__.get(method)
    if original is None or getattr(original, _ORIGINAL, None) is not None:
        return  # not in this SDK version, or wrapped by an earlier import of this module
    wrapper = wrap(original)
    setattr(wrapper, _ORIGINAL, original)
    setattr(cls, method, wrapper)
    _patched.append((cls, original))


def _recorder_for_call() -> Recorder | None:
    """The recorder, unless nothing records or an llm span already covers this call."""
    recorder = _recorder
    if recorder is None:
        return None
    inner = current_capture_span.get()
    if inner is not None and inner.is_recording():
        attributes: Mapping[str, Any] = getattr(inner, "attributes", None) or {}
        if attributes.get(semconv.KIND) == kinds.LLM:
            return None
    return recorder


def _materialised(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with one-shot iterables (messages, tools) made lists, so that recording
    them does not consume what the SDK is about to send."""
    for key in ("messages", "tools", "functions"):
        value = kwargs.get(key)
        if isinstance(value, Iterable) and not isinstance(value, Sequence | Mapping):
            kwargs[key] = list(value)  # pyright: ignore[reportUnknownArgumentType]
    return kwargs


def _respond(call: ModelCall, result: Any, kwargs: Mapping[str, Any]) -> Any:
    """Record the response; return what the caller gets (a stream is wrapped)."""
    mode = _compat.response_mode(kwargs)
    streamed = bool(kwargs.get("stream")) and not _compat.is_omitted(kwargs.get("stream"))
    if mode == "parsed" and streamed:
        if hasattr(result, "__aiter__"):
            return TracedAsyncStream(result, call)
        return TracedStream(result, call)
    if mode == "parsed":
        call.succeed(as_dict(result))
    elif mode == "raw" and not streamed:
        call.succeed(as_dict(_compat.parse_raw(result)))
    else:  # the body is read later, by the user, through the raw response
        call.unread()
    return result


def _after(call: ModelCall, result: Any, kwargs: Mapping[str, Any]) -> Any:
    returned = attempt("openai.respond", lambda: _respond(call, result, kwargs), call)
    if returned is call:  # recording the response failed (logged): end the span anyway
        call.finish(ok=False)
        return result
    return returned


def _failed(call: ModelCall, error: BaseException) -> None:
    with boundary("openai.fail"):
        if isinstance(error, Exception):
            call.fail(error)
        else:  # cancelled or interrupted: not the call's error
            call.stop_early(None)


def _wrap_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        recorder = _recorder_for_call()
        if recorder is None:
            return original(self, *args, **kwargs)
        kwargs = _materialised(kwargs)
        call = attempt("openai.begin", lambda: begin(recorder, self, kwargs), None)
        if call is None:
            return original(self, *args, **kwargs)
        token = current_capture_span.set(call.span)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as error:
            _failed(call, error)
            raise
        finally:
            current_capture_span.reset(token)
        return _after(call, result, kwargs)

    return create


def _wrap_async(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        recorder = _recorder_for_call()
        if recorder is None:
            return await original(self, *args, **kwargs)
        kwargs = _materialised(kwargs)
        call = attempt("openai.begin", lambda: begin(recorder, self, kwargs), None)
        if call is None:
            return await original(self, *args, **kwargs)
        token = current_capture_span.set(call.span)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as error:
            _failed(call, error)
            raise
        finally:
            current_capture_span.reset(token)
        return _after(call, result, kwargs)

    return create
