"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers from a script.

The real ``openai`` / ``langchain_openai`` clients talk to it over loopback HTTP, so what
tracetape records comes from genuine client parsing of genuine responses. It implements
``POST /v1/chat/completions``, plain JSON and ``stream: true`` server-sent events (with the
``stream_options.include_usage`` usage chunk), and ``POST /v1/embeddings`` (unscripted: each
text's vector is derived from its SHA-256, so equal texts embed alike), and records every
request body it received.

Use the ``openai_server`` fixture (import it into your test module, or list this module in
``pytest_plugins``)::

    def test_x(tape, openai_server):
        openai_server.script(Reply(content="hi"))
        model = openai_server.chat_model()  # ChatOpenAI(base_url=..., api_key="sk-test-...")
        model.invoke("hello", config={"callbacks": [tape.langchain()]})
        assert openai_server.request_count == 1
        assert openai_server.requests[0]["model"] == "gpt-4o"

Replay tests assert ``openai_server.request_count == 0``. When the script runs out, the
server answers 500 with an ``error.type`` of ``tracetape_fake_script_exhausted``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import struct
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TEST_API_KEY = "sk-test-0123456789abcdefABCDEF0123456789"
"""The API key clients send to the fake server (credential-shaped, so redaction sees it)."""

DEFAULT_RESPONSE_MODEL = "gpt-4o-2024-08-06"
DEFAULT_FINGERPRINT = "fp_tracetape_0001"


@dataclass(frozen=True)
class ToolCall:
    """One tool call the scripted assistant message requests."""

    name: str
    arguments: dict[str, Any]
    id: str


@dataclass(frozen=True)
class Reply:
    """One scripted answer to one ``POST /v1/chat/completions``.

    ``status`` other than 200 answers with an OpenAI-shaped error body instead
    (``error_message``, ``error_type``, ``error_code``).
    """

    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None  # default: "tool_calls" if tool_calls else "stop"
    model: str = DEFAULT_RESPONSE_MODEL
    system_fingerprint: str | None = DEFAULT_FINGERPRINT
    prompt_tokens: int = 11
    completion_tokens: int = 7
    status: int = 200
    error_message: str = "scripted error"
    error_type: str = "server_error"
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def reason(self) -> str:
        """The finish reason sent."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def usage(self) -> dict[str, Any]:
        """The ``usage`` object sent."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }


def error(
    status: int, message: str, *, type: str = "server_error", code: str | None = None
) -> Reply:
    """A scripted HTTP error answer (e.g. ``error(500, "boom")``)."""
    return Reply(status=status, error_message=message, error_type=type, error_code=code)


class OpenAIServer:
    """The running server: script replies, read back what clients sent."""

    def __init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._requests: list[dict[str, Any]] = []
        self._headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = False  # server_close() joins them: nothing leaks
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}",
            daemon=True,
        )

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # -- script ------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Append replies; each request consumes the next one."""
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        """Scripted replies not yet consumed."""
        with self._lock:
            return len(self._script)

    # -- what clients sent -------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every JSON request body received, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """The headers of every request, lower-cased names, in order (a copy)."""
        with self._lock:
            return list(self._headers)

    @property
    def request_count(self) -> int:
        """How many requests reached the server."""
        with self._lock:
            return len(self._requests)

    # -- clients -----------------------------------------------------------------------
    def chat_model(self, model: str = "gpt-4o", **kwargs: Any) -> Any:
        """A real ``langchain_openai.ChatOpenAI`` pointed at this server, never retrying."""
        from langchain_openai import ChatOpenAI

        kwargs.setdefault("api_key", TEST_API_KEY)
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30)
        return ChatOpenAI(model=model, base_url=self.base_url, **kwargs)

    def embeddings_model(self, model: str = "text-embedding-3-small", **kwargs: Any) -> Any:
        """A real ``langchain_openai.OpenAIEmbeddings`` pointed at this server (sending
        the texts as they are: no tokenizer download)."""
        from langchain_openai import OpenAIEmbeddings

        kwargs.setdefault("api_key", TEST_API_KEY)
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("check_embedding_ctx_length", False)
        return OpenAIEmbeddings(model=model, base_url=self.base_url, **kwargs)

    # -- server side -------------------------------------------------------------------
    def _note(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)

    def _receive(self, body: dict[str, Any], headers: dict[str, str]) -> Reply | None:
        with self._lock:
            self._requests.append(body)
            self._headers.append(headers)
            return self._script.popleft() if self._script else None

    def _next_id(self) -> str:
        return f"chatcmpl-fake{next(self._ids):04d}"


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in reply.tool_calls
        ]
    return message


def completion(reply: Reply, response_id: str, created: int = 1_700_000_000) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body for ``reply``."""
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": reply.model,
        "system_fingerprint": reply.system_fingerprint,
        "choices": [
            {
                "index": 0,
                "message": _message(reply),
                "logprobs": None,
                "finish_reason": reply.reason,
            }
        ],
        "usage": reply.usage(),
    }


def chunks(
    reply: Reply, response_id: str, include_usage: bool, created: int = 1_700_000_000
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` events of a streamed ``reply``."""

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": reply.model,
            "system_fingerprint": reply.system_fingerprint,
            "choices": choices,
            **extra,
        }

    def delta(d: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]

    yield chunk(delta({"role": "assistant", "content": "", "refusal": None}))
    text = reply.content or ""
    for start in range(0, len(text), 4):
        yield chunk(delta({"content": text[start : start + 4]}))
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        yield chunk(
            delta({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        )
        arguments = json.dumps(call.arguments)
        for start in range(0, len(arguments), 8):
            piece = {"index": index, "function": {"arguments": arguments[start : start + 8]}}
            yield chunk(delta({"tool_calls": [piece]}))
    yield chunk(delta({}, reply.reason))
    if include_usage:
        yield chunk([], usage=reply.usage())


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return None

        def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            route = self.path.rstrip("/")
            if route not in ("/v1/chat/completions", "/v1/embeddings"):
                self._send_json(404, _error_body("no such route", "invalid_request_error"), {})
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_unparsed": raw.decode("utf-8", "replace")}
            headers = {k.lower(): v for k, v in self.headers.items()}
            if route == "/v1/embeddings":
                server._note(body, headers)  # pyright: ignore[reportPrivateUsage]
                self._send_json(200, embeddings_body(body), {})
                return
            reply = server._receive(body, headers)  # pyright: ignore[reportPrivateUsage]
            if reply is None:
                reply = error(
                    500,
                    "fake OpenAI server: script exhausted",
                    type="tracetape_fake_script_exhausted",
                )
            if reply.status != 200:
                self._send_json(
                    reply.status,
                    _error_body(reply.error_message, reply.error_type, reply.error_code),
                    {"x-should-retry": "false", **reply.headers},
                )
                return
            response_id = server._next_id()  # pyright: ignore[reportPrivateUsage]
            if not body.get("stream"):
                self._send_json(200, completion(reply, response_id), reply.headers)
                return
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            for event in chunks(reply, response_id, include_usage):
                self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


EMBEDDING_DIMENSIONS = 8


def vector(text: str) -> list[float]:
    """The fake server's embedding of ``text``: 8 numbers from its SHA-256 (multiples of
    1/256, so float32, which base64 responses carry, holds them exactly)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 256 for b in digest[:EMBEDDING_DIMENSIONS]]


def embeddings_body(body: dict[str, Any]) -> dict[str, Any]:
    """A ``/v1/embeddings`` response for ``body``'s input (texts or token lists): float
    lists, or base64 of little-endian float32 when ``encoding_format`` asks for it (the
    SDK asks for it by default and decodes it), as the API does."""
    raw = body.get("input")
    texts: list[Any] = raw if isinstance(raw, list) else [raw]  # pyright: ignore[reportUnknownVariableType]
    if texts and isinstance(texts[0], int):
        texts = [texts]  # one token array
    encoded = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": _base64(vector(json.dumps(text))) if encoded else vector(json.dumps(text)),
        }
        for i, text in enumerate(texts)
    ]
    usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
    return {"object": "list", "data": data, "model": body.get("model"), "usage": usage}


def _base64(numbers: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(numbers)}f", *numbers)).decode()


def _error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A running fake OpenAI server on 127.0.0.1 (random port), stopped after the test."""
    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()
