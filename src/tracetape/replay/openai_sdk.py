"""The ``openai`` SDK's chat completions, called directly, answered from a recording.

A LangGraph node that calls ``client.chat.completions.create(...)`` (or ``.parse``, sync
or async, streamed or not) is replayed like a LangChain model call: the active player
matches the request (its messages, model, params, tools and response format, compared
whole as capture keeps them) with the next recorded model call and hands back the
recorded ``chat.completion`` body. The SDK then runs exactly as it does for real, up to
the point where it would send the HTTP request: there the recorded body is handed to it
as the response (a JSON body, or server-sent chunk events for ``stream=True``), so the
caller gets the SDK's own ``ChatCompletion``, ``Stream`` of ``ChatCompletionChunk`` or
``ParsedChatCompletion``, and no request leaves the process.

Private seams of the SDK touched here (each tested in
``tests/unit/replay/test_openai_sdk.py``):

- ``Completions.create`` / ``.parse`` and their async twins: where the request is given;
- ``Embeddings.create`` / ``AsyncEmbeddings.create``: the same for an embedding request,
  answered with the recorded ``/embeddings`` body (a replay's `Player.sdk_embedding`);
- ``SyncAPIClient._send_request`` / ``AsyncAPIClient._send_request`` (and each
  subclass's own override): where the built request turns into an HTTP exchange.

``openai`` is imported only by `install`, and only when it is installed.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tracetape.capture.openai import embeddings as embeddings_capture
from tracetape.capture.openai import is_instrumented
from tracetape.capture.openai._compat import EMBEDDINGS_CLASSES, EMBEDDINGS_MODULE
from tracetape.capture.openai.messages import as_dict
from tracetape.capture.openai.request import REPLAY_FORMAT, given, wire_response_format
from tracetape.errors import TracetapeError
from tracetape.replay import _compat, openai_record
from tracetape.replay._patching import MARK, patch, subclasses
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import content_hash, redacted_dumps, to_jsonable
from tracetape.spans.recorder import current_capture_span

COMPLETIONS_MODULE: Final = "openai.resources.chat.completions"
CLIENT_MODULE: Final = "openai._base_client"
RESOURCE_CLASSES: Final = ("Completions", "AsyncCompletions")
CLIENT_CLASSES: Final = ("SyncAPIClient", "AsyncAPIClient")
METHODS: Final = ("create", "parse")
SEND: Final = "_send_request"
_CAPTURE_MARK = "__tracetape_original__"
# As capture keeps the request beside its messages (see capture.openai.request).
_NOT_PARAMS: Final = frozenset(
    {"messages", "tools", "functions", "extra_headers", "extra_query", "timeout"}
)
_lock = threading.Lock()


@dataclass(frozen=True)
class Failure:
    """A recorded SDK call the provider answered with an HTTP error: played back as that
    error response, so the SDK raises its own exception class (``RateLimitError``, ...)."""

    status: int
    message: str
    code: str | None = None

    @classmethod
    def of(cls, attributes: Mapping[str, Any], message: str) -> Failure | None:
        """The failure a recorded span holds, if it failed with an HTTP status."""
        status = attributes.get(semconv.HTTP_STATUS_CODE)
        if not isinstance(status, int) or isinstance(status, bool) or status < 400:
            return None
        code = attributes.get(semconv.MODEL_ERROR_CODE)
        return cls(status, message, str(code) if code else None)


class Canned:
    """One recorded response, handed to the SDK in place of its HTTP exchange (once):
    a ``chat.completion`` (sent as the API would, streamed or not), or another body
    (``chat=False``: an ``/embeddings`` response) sent as it is."""

    def __init__(
        self, completion: Mapping[str, Any] | Failure, streamed: bool, *, chat: bool = True
    ) -> None:
        self.completion = completion
        self.streamed = streamed
        self.chat = chat
        self.taken = False

    def body(self) -> tuple[bytes, str]:
        """The response body and its content type."""
        if isinstance(self.completion, Failure):
            error = {"message": self.completion.message, "type": self.completion.code}
            return json.dumps({"error": {**error, "code": self.completion.code}}).encode(), (
                "application/json"
            )
        if not self.chat:
            return json.dumps(self.completion).encode(), "application/json"
        wire = wire_completion(self.completion)
        if not self.streamed:
            return json.dumps(wire).encode(), "application/json"
        events = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks(wire))
        return events + b"data: [DONE]\n\n", "text/event-stream"

    def response(self, request: Any) -> Any:
        """An ``httpx`` response holding the recorded body, for ``request``."""
        if self.taken:
            raise TracetapeError(
                "replay: the openai SDK sent a second request for one recorded call"
            )
        self.taken = True
        body, content_type = self.body()
        headers = {"content-type": content_type}
        status = 200
        if isinstance(self.completion, Failure):
            status = self.completion.status
            headers["x-should-retry"] = "false"  # played back once, as it was recorded
        module = importlib.import_module(type(request).__module__.split(".")[0])
        return module.Response(status, headers=headers, content=body, request=request)


canned: contextvars.ContextVar[Canned | None] = contextvars.ContextVar(
    "tracetape_replay_openai_canned", default=None
)
# Set while a wrapped method runs, answered or let through: its request is decided.
_decided: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tracetape_replay_openai_decided", default=False
)


# -- the request as capture keeps it ---------------------------------------------------
def request_payload(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request minus its messages (model, params, tools, wire response format), as
    capture stores it under ``tracetape.replay.request``."""
    sent = given(kwargs)
    request = {k: v for k, v in sent.items() if k not in _NOT_PARAMS}
    if "response_format" in request:
        request["response_format"] = wire_response_format(request["response_format"])
    for key in ("tools", "functions"):
        if sent.get(key):
            request[key] = sent[key]
    return request


def request_key(kwargs: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """The content hashes capture gives this request: one per message, one for the rest."""
    messages: Sequence[Any] = kwargs.get("messages") or ()
    hashes = tuple(content_hash(redacted_dumps(as_dict(m))) for m in messages)
    return hashes, content_hash(redacted_dumps(to_jsonable(request_payload(kwargs))))


def is_sdk_call(attributes: Mapping[str, Any]) -> bool:
    """Whether a recorded llm span is a raw SDK call (its payloads in the wire shape)."""
    return attributes.get(semconv.REPLAY_FORMAT) == REPLAY_FORMAT


def recorded_key(attributes: Mapping[str, Any], inputs: tuple[str, ...]) -> tuple[Any, Any]:
    """A recorded SDK call's key, comparable with `request_key`."""
    return inputs, attributes.get(semconv.REPLAY_REQUEST)


def asked(kwargs: Mapping[str, Any]) -> tuple[list[Any], Any, Any]:
    """A live request as a diff shows it: its messages, params and tools (redacted)."""
    messages: Sequence[Any] = kwargs.get("messages") or ()
    request = request_payload(kwargs)
    tools = request.pop("tools", None) or request.pop("functions", None)
    return (
        [json.loads(redacted_dumps(as_dict(m))) for m in messages],
        json.loads(redacted_dumps(to_jsonable(request))),
        json.loads(redacted_dumps(to_jsonable(tools))) if tools else None,
    )


# -- the recorded response on the wire ---------------------------------------------------
def wire_completion(completion: Mapping[str, Any]) -> dict[str, Any]:
    """A recorded ``chat.completion`` as the API sends it (``parse`` adds ``parsed`` to
    each message on the client side; the SDK parses it again from the content)."""
    body = dict(completion)
    choices: list[Any] = []
    for choice in completion.get("choices") or ():
        if isinstance(choice, Mapping) and isinstance(choice.get("message"), Mapping):
            message = {k: v for k, v in choice["message"].items() if k != "parsed"}  # pyright: ignore[reportUnknownVariableType]
            choice = {**choice, "message": message}
        choices.append(choice)
    body["choices"] = choices
    return body


def chunks(completion: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` events of a recorded completion: per choice its
    message in one delta, then its finish reason; then the usage, if recorded."""
    head = {
        k: completion[k]
        for k in ("id", "created", "model", "system_fingerprint", "service_tier")
        if k in completion
    }
    head["object"] = "chat.completion.chunk"
    for choice in completion.get("choices") or ():
        if not isinstance(choice, Mapping):
            continue
        index = choice.get("index", 0)
        message: Mapping[str, Any] = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role") or "assistant"}
        for key in ("content", "refusal"):
            if message.get(key) is not None:
                delta[key] = message[key]
        calls = message.get("tool_calls") or ()
        if calls:
            delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
        yield {**head, "choices": [{"index": index, "delta": delta, "finish_reason": None}]}
        reason = choice.get("finish_reason")
        yield {**head, "choices": [{"index": index, "delta": {}, "finish_reason": reason}]}
    if completion.get("usage") is not None:
        yield {**head, "choices": [], "usage": completion["usage"]}


# -- the seams ---------------------------------------------------------------------------
def _ask(hooks: _compat.Hooks, kwargs: Mapping[str, Any]) -> Canned | None:
    """The player's recorded answer to this request, or None to send it."""
    completion = hooks.chat_completion(kwargs)
    if completion is None:
        return None
    return Canned(completion, bool(given(kwargs).get("stream")))


def _in_model_call() -> bool:
    """A LangChain model (``ChatOpenAI``) or a LangChain or LlamaIndex embedding model
    calling the SDK: that call was already answered or let through, and is not asked
    again."""
    span = current_capture_span.get()
    attrs: Mapping[str, Any] = getattr(span, "attributes", None) or {}
    if attrs.get(semconv.KIND) == kinds.EMBEDDING:  # LangChain's or LlamaIndex's own call
        return attrs.get(semconv.EMBEDDING_METHOD) != semconv.SDK_EMBEDDING_METHOD
    return attrs.get(semconv.KIND) == kinds.LLM and not is_sdk_call(attrs)


def _hooks() -> _compat.Hooks | None:
    hooks = _compat.active.get()
    return None if hooks is None or _in_model_call() else hooks


def _mark(wrapper: Callable[..., Any], original: Callable[..., Any]) -> None:
    setattr(wrapper, MARK, original)
    # Wrapping capture's wrapper: what this one wraps is capture's "original" seen from
    # outside (functools.wraps copied the SDK's own), so capture still finds itself
    # installed and its wrapper stays one ``__wrapped__`` step in.
    if hasattr(original, _CAPTURE_MARK):
        setattr(wrapper, _CAPTURE_MARK, original)


@dataclass(frozen=True)
class _Seam:
    """How one SDK method is replayed: what the player is asked, and who records the
    call into the replay's trace (and how)."""

    ask: Callable[[_compat.Hooks, Mapping[str, Any]], Canned | None]
    recorder: Callable[[_compat.Hooks], Any]
    run: Callable[..., Any]
    arun: Callable[..., Awaitable[Any]]
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda kwargs: kwargs


def _ask_embedding(hooks: _compat.Hooks, kwargs: Mapping[str, Any]) -> Canned | None:
    """The player's recorded ``/embeddings`` response to this request, or None to send
    it."""
    body = hooks.sdk_embedding(kwargs)
    return None if body is None else Canned(body, streamed=False, chat=False)


_CHAT = _Seam(
    ask=_ask,
    # `openai_record` records it unless capture is instrumented (and then does).
    recorder=lambda hooks: getattr(hooks, "recorder", None),
    run=openai_record.run,
    arun=openai_record.arun,
)
_EMBEDDINGS = _Seam(
    ask=_ask_embedding,
    # Capture's own wrapper records it when instrumented; else the replay does.
    recorder=lambda hooks: None if is_instrumented() else getattr(hooks, "recorder", None),
    run=embeddings_capture.run,
    arun=embeddings_capture.arun,
    prepare=embeddings_capture.materialised,
)


def _wrap_method(
    original: Callable[..., Any], aio: bool, seam: _Seam = _CHAT
) -> Callable[..., Any]:
    """A resource method answered from the recording at the SDK's send (see `canned`)
    and recorded into the replay's trace."""
    # Told, not inspected: the SDK's decorators hide its methods' coroutine nature.
    if aio:

        @functools.wraps(original)
        async def acreate(self: Any, *args: Any, **kwargs: Any) -> Any:
            hooks = _hooks()
            if hooks is None:
                return await original(self, *args, **kwargs)
            kwargs = seam.prepare(kwargs)
            token = canned.set(seam.ask(hooks, kwargs))
            decided = _decided.set(True)
            try:
                return await seam.arun(
                    seam.recorder(hooks), self, kwargs, lambda: original(self, *args, **kwargs)
                )
            finally:
                _decided.reset(decided)
                canned.reset(token)

        _mark(acreate, original)
        return acreate

    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = _hooks()
        if hooks is None:
            return original(self, *args, **kwargs)
        kwargs = seam.prepare(kwargs)
        token = canned.set(seam.ask(hooks, kwargs))
        decided = _decided.set(True)
        try:
            return seam.run(
                seam.recorder(hooks), self, kwargs, lambda: original(self, *args, **kwargs)
            )
        finally:
            _decided.reset(decided)
            canned.reset(token)

    _mark(create, original)
    return create


def _late(request: Any) -> Canned | None:
    """The answer to a chat request that reached the transport without passing a wrapped
    method (one bound before replay wrapped it, ``with_raw_response`` made earlier):
    asked of the player by its body, so no such request leaves while the model is
    pinned either; None to send it."""
    answer = canned.get()
    if answer is not None or _decided.get():
        return answer
    hooks = _hooks()
    url = getattr(request, "url", None)
    if hooks is None or not str(getattr(url, "path", "")).endswith("/chat/completions"):
        return None
    try:
        body = json.loads(request.content)
    except (AttributeError, TypeError, ValueError):  # a body not read yet: sent as it is
        return None
    return _ask(hooks, body) if isinstance(body, dict) else None


def _wrap_send(original: Callable[..., Any], aio: bool) -> Callable[..., Any]:
    if aio:

        @functools.wraps(original)
        async def asend(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            answer = _late(request)
            if answer is None:
                return await original(self, request, *args, **kwargs)
            return answer.response(request)

        setattr(asend, MARK, original)
        return asend

    @functools.wraps(original)
    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        answer = _late(request)
        if answer is None:
            return original(self, request, *args, **kwargs)
        return answer.response(request)

    setattr(send, MARK, original)
    return send


def install() -> bool:
    """Wrap the SDK's seams (idempotent); False, doing nothing, without ``openai``."""
    try:
        resources = importlib.import_module(COMPLETIONS_MODULE)
        clients = importlib.import_module(CLIENT_MODULE)
    except ImportError:
        return False
    with _lock:
        for name, aio in zip(RESOURCE_CLASSES, (False, True), strict=True):
            wrap = functools.partial(_wrap_method, aio=aio)
            for method in METHODS:
                patch(getattr(resources, name), method, wrap)
        embeddings = importlib.import_module(EMBEDDINGS_MODULE)
        for name, aio in zip(EMBEDDINGS_CLASSES, (False, True), strict=True):
            wrap = functools.partial(_wrap_method, aio=aio, seam=_EMBEDDINGS)
            patch(getattr(embeddings, name), "create", wrap)
        for name, aio in zip(CLIENT_CLASSES, (False, True), strict=True):
            wrap = functools.partial(_wrap_send, aio=aio)
            for cls in subclasses(getattr(clients, name)):
                patch(cls, SEND, wrap)
    return True
