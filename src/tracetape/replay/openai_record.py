"""A replayed raw SDK call recorded into the replay's trace when capture does not do it.

With ``tracetape.instrument()`` on, capture's own SDK wrappers record every call, those
of a replay too. Without it (``tracetape replay`` on the command line, a test that only
replays), the replay records its SDK calls itself, through the tape's recorder and
capture's own pieces (`begin`, `ModelCall`, the recording streams), so the replay's trace
holds the same llm spans as the recording and can be diffed against it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tracetape._safety import attempt, boundary
from tracetape.capture.openai import is_instrumented
from tracetape.capture.openai.call import ModelCall, begin
from tracetape.capture.openai.messages import as_dict
from tracetape.capture.openai.request import given
from tracetape.capture.openai.stream import TracedAsyncStream, TracedStream
from tracetape.spans.recorder import Recorder, current_capture_span

_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


def _open(recorder: Recorder | None, resource: Any, kwargs: Mapping[str, Any]) -> ModelCall | None:
    if recorder is None or is_instrumented():
        return None
    return attempt("replay.openai.begin", lambda: begin(recorder, resource, kwargs), None)


def _respond(call: ModelCall, result: Any, kwargs: Mapping[str, Any]) -> Any:
    headers: Any = kwargs.get("extra_headers")
    if isinstance(headers, Mapping) and headers.get(_RAW_RESPONSE_HEADER):  # pyright: ignore[reportUnknownMemberType]
        call.unread()  # the body is read later, by the caller
        return result
    if given(kwargs).get("stream"):
        if hasattr(result, "__aiter__"):
            return TracedAsyncStream(result, call)
        return TracedStream(result, call)
    call.succeed(as_dict(result))
    return result


def _after(call: ModelCall, result: Any, kwargs: Mapping[str, Any]) -> Any:
    returned = attempt("replay.openai.respond", lambda: _respond(call, result, kwargs), call)
    if returned is call:
        call.finish(ok=False)
        return result
    return returned


def _failed(call: ModelCall, error: BaseException) -> None:
    with boundary("replay.openai.fail"):
        if isinstance(error, Exception):
            call.fail(error)
        else:
            call.stop_early(None)


def run(
    recorder: Recorder | None, resource: Any, kwargs: Mapping[str, Any], send: Callable[[], Any]
) -> Any:
    """``send()`` (the SDK call), recorded as an llm span unless capture records it."""
    call = _open(recorder, resource, kwargs)
    if call is None:
        return send()
    token = current_capture_span.set(call.span)
    try:
        result = send()
    except BaseException as error:
        _failed(call, error)
        raise
    finally:
        current_capture_span.reset(token)
    return _after(call, result, kwargs)


async def arun(
    recorder: Recorder | None,
    resource: Any,
    kwargs: Mapping[str, Any],
    send: Callable[[], Awaitable[Any]],
) -> Any:
    """`run` for the async client."""
    call = _open(recorder, resource, kwargs)
    if call is None:
        return await send()
    token = current_capture_span.set(call.span)
    try:
        result = await send()
    except BaseException as error:
        _failed(call, error)
        raise
    finally:
        current_capture_span.reset(token)
    return _after(call, result, kwargs)
