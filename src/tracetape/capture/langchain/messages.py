"""LangChain messages -> semconv message JSON and whole serialised payloads, once each.

A LangGraph agent sends the whole growing history on every model call. Each message
object is encoded once (semconv shape for display, LangChain's ``dumpd`` form for
replay, and its content hash) and the encodings are reused while the object lives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.load import dumpd
from langchain_core.messages import BaseMessage

from tracetape.spans.encode import dumps, limit, to_jsonable
from tracetape.spans.recorder import Recorder

_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "chat": "user",
    "developer": "system",
}
_CACHE_SIZE = 4096
_MESSAGE_DISPLAY_CHARS = 4000


@dataclass(frozen=True)
class EncodedMessage:
    """One message, encoded for display (semconv) and for replay (LangChain form)."""

    display: str
    payload: str


class MessageCodec:
    """Encodes messages, caching by object identity (bounded)."""

    def __init__(self, capture_content: bool) -> None:
        self.capture_content = capture_content
        self._cache: OrderedDict[int, tuple[BaseMessage, EncodedMessage]] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, message: BaseMessage, finish_reason: str | None = None) -> EncodedMessage:
        """The encodings of ``message`` (cached while the same object is passed)."""
        key = id(message)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] is message and finish_reason is None:
                return hit[1]
        encoded = EncodedMessage(
            display=dumps(semconv_message(message, self.capture_content, finish_reason)),
            payload=dumps(to_jsonable(dumpd(message))),
        )
        if finish_reason is None:
            with self._lock:
                self._cache[key] = (message, encoded)
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return encoded


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return str(content)


def semconv_message(
    message: BaseMessage, capture_content: bool, finish_reason: str | None = None
) -> dict[str, Any]:
    """A message in the OpenTelemetry GenAI shape: role, parts, optional name."""
    role = _ROLES.get(message.type, message.type)
    out: dict[str, Any] = {"role": role}
    if message.name:
        out["name"] = message.name
    parts: list[dict[str, Any]] = []
    text = _text(message.content)
    if text:
        shown, _ = limit(text, _MESSAGE_DISPLAY_CHARS)
        parts.append({"type": "text", "content": to_jsonable(shown) if capture_content else None})
    for call in getattr(message, "tool_calls", None) or []:
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.get("name"),
                "arguments": to_jsonable(call.get("args")) if capture_content else None,
            }
        )
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        parts = [
            {
                "type": "tool_call_response",
                "id": tool_call_id,
                "response": to_jsonable(shown if text else None) if capture_content else None,
            }
            for shown in [limit(text, _MESSAGE_DISPLAY_CHARS)[0]]
        ]
    out["parts"] = parts
    if finish_reason:
        out["finish_reason"] = finish_reason
    return out


def encode_history(
    codec: MessageCodec,
    messages: Sequence[BaseMessage],
    recorder: Recorder,
    blobs: dict[str, str],
) -> tuple[str, list[str], bool]:
    """Display JSON (newest kept when cut), payload hashes, and whether all were kept."""
    encoded = [codec.encode(m) for m in messages]
    hashes: list[str] = []
    whole = True
    for item in encoded:
        digest = recorder.content.put(item.payload, blobs) if codec.capture_content else None
        if digest is None:
            whole = False
        else:
            hashes.append(digest)
    budget = recorder.settings.max_display_chars
    shown: list[str] = []
    used = 2
    for item in reversed(encoded):
        if used + len(item.display) + 1 > budget and shown:
            break
        shown.append(item.display)
        used += len(item.display) + 1
    omitted = len(encoded) - len(shown)
    shown.reverse()
    if omitted:
        shown.insert(0, dumps({"role": "tracetape", "omitted_earlier_messages": omitted}))
    return "[" + ",".join(shown) + "]", hashes, whole
