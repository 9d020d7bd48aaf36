"""LangChain messages -> semconv message JSON and whole serialised payloads, once each.

A LangGraph agent sends the whole growing history on every model call. Each message
object is encoded once (semconv shape for display, LangChain's ``dumpd`` form for
replay, and its content hash) and the encodings are reused while the object lives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.load import dumpd
from langchain_core.messages import (
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    SystemMessage,
    message_chunk_to_message,
)

from tracetape.spans.encode import content_hash, dumps, limit, redacted_dumps, to_jsonable
from tracetape.spans.recorder import Recorder
from tracetape.spans.redact import redact_text

_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "tool",
    "chat": "user",
    "developer": "system",
    "assistant": "assistant",
    "user": "user",
}
_CHUNK_TYPES = {
    "AIMessageChunk": "ai",
    "HumanMessageChunk": "human",
    "SystemMessageChunk": "system",
    "ToolMessageChunk": "tool",
    "FunctionMessageChunk": "function",
    "ChatMessageChunk": "chat",
}
_CACHE_SIZE = 4096
_MESSAGE_DISPLAY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class EncodedMessage:
    """One message, encoded for display (semconv) and for replay (LangChain form)."""

    display: str
    payload: str
    digest: str
    """The payload's content hash (`content_hash`)."""


@dataclass(slots=True)
class EncodedList:
    """A list of messages, each encoded, and the list's JSON texts once asked for."""

    items: tuple[BaseMessage, ...]
    """The messages themselves: held so that their ids, the cache key, stay theirs."""
    encoded: tuple[EncodedMessage, ...]
    _display: str | None = None
    _payload: str | None = None
    _digests: tuple[str, ...] | None = None

    def digests(self) -> tuple[str, ...]:
        """The messages' payload hashes, in order."""
        if self._digests is None:
            self._digests = tuple(e.digest for e in self.encoded)
        return self._digests

    def display(self) -> str:
        """A JSON array of the messages' displays."""
        if self._display is None:
            self._display = "[" + ",".join(e.display for e in self.encoded) + "]"
        return self._display

    def payload(self) -> str:
        """A JSON array of the messages' payloads (LangChain's form)."""
        if self._payload is None:
            self._payload = "[" + ",".join(e.payload for e in self.encoded) + "]"
        return self._payload


class MessageCodec:
    """Encodes messages, caching by object identity (bounded)."""

    def __init__(self, capture_content: bool) -> None:
        self.capture_content = capture_content
        self._cache: OrderedDict[int, tuple[BaseMessage, EncodedMessage]] = OrderedDict()
        self._lists: dict[tuple[int, ...], EncodedList] = {}
        """Lists of messages by their items' ids. A LangGraph step shows its history
        several times (node, chain, prompt values, routing, tool node): each list is
        joined once, and shown again for the cost of a tuple of ids."""
        self._plain: OrderedDict[tuple[type, str, str | None], EncodedMessage] = OrderedDict()
        """Encodings of plain system and user messages by content: a prompt template
        formats its system message anew on every call, the same each time."""
        self._lock = threading.Lock()

    def encode(self, message: BaseMessage, finish_reason: str | None = None) -> EncodedMessage:
        """The encodings of ``message`` (cached while the same object is passed)."""
        key = id(message)
        # A lookup needs no lock: a dict read is atomic, and the entry holds the message,
        # so an id reused by another object never matches.
        hit = self._cache.get(key)
        if hit is not None and hit[0] is message:
            encoded = hit[1]
        else:
            same = _plain_key(message)
            found = self._plain.get(same) if same is not None else None
            if found is not None:
                encoded = found
            else:
                display = dumps(semconv_message(message, self.capture_content))
                payload = self._payload(message, display)
                encoded = EncodedMessage(display, payload, content_hash(payload))
            with self._lock:
                self._cache[key] = (message, encoded)
                if len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
                if same is not None and found is None:
                    self._plain[same] = encoded
                    if len(self._plain) > _PLAIN_CACHE_SIZE:
                        self._plain.popitem(last=False)
        if not finish_reason:
            return encoded
        # A response's finish reason is the last key of its display (see
        # `semconv_message`); the message itself, as the history, is cached without it.
        # The payload (LangChain's form) does not carry it.
        display = encoded.display[:-1] + ',"finish_reason":' + dumps(finish_reason) + "}"
        return EncodedMessage(display, encoded.payload, encoded.digest)

    def encode_list(self, items: Sequence[Any]) -> EncodedList | None:
        """The encodings of a list of messages (cached while the same objects are
        passed, in the same order); None when an item is no message, or none is."""
        key = tuple(map(id, items))
        hit = self._lists.get(key)
        if hit is not None:
            return hit
        if not items:
            return None
        encoded: list[EncodedMessage] = []
        for item in items:
            if not isinstance(item, BaseMessage):
                return None
            encoded.append(self.encode(item))
        entry = EncodedList(tuple(items), tuple(encoded))  # pyright: ignore[reportUnknownArgumentType]
        with self._lock:
            self._lists[key] = entry
            if len(self._lists) > _LIST_CACHE_SIZE:
                del self._lists[next(iter(self._lists))]
        return entry

    def _payload(self, message: BaseMessage, display: str) -> str:
        """LangChain's serialised form; content-free (the display) when content is off."""
        if not self.capture_content:
            return display
        if isinstance(message, BaseMessageChunk):
            # A streamed response is kept as the message a plain call would have returned.
            message = message_chunk_to_message(message)
        return redacted_dumps(dumpd(message))


_PLAIN_CACHE_SIZE = 256
_LIST_CACHE_SIZE = 64


def _plain_key(message: BaseMessage) -> tuple[type, str, str | None] | None:
    """(class, text, name) of a system or user message that holds nothing else (no id,
    extra kwargs or metadata, no extra fields): its encodings depend on these alone."""
    if type(message) not in (SystemMessage, HumanMessage):
        return None
    content = message.content
    if (
        not isinstance(content, str)
        or message.id is not None
        or message.additional_kwargs
        or message.response_metadata
        or message.__pydantic_extra__
    ):
        return None
    return type(message), content, message.name


def _data_url(url: str) -> str:
    """A ``data:`` URL shortened to its media type: the bytes stay out of the display."""
    if not url.startswith("data:"):
        return url
    head, _, body = url.partition(",")
    return f"{head},…[tracetape: {len(body)} chars of inline data omitted]"


def _block_part(block: Mapping[str, Any], capture: bool) -> dict[str, Any] | None:
    """One non-text content block as a semconv part (None: shown elsewhere or unknown)."""
    kind = str(block.get("type") or "")
    if kind in ("tool_use", "tool_call", "function_call", "server_tool_call"):
        return None  # the message's tool_calls carry these
    if kind in ("reasoning", "thinking"):
        text = block.get("reasoning") or block.get("thinking") or block.get("text") or ""
        shown = limit(redact_text(str(text)), _MESSAGE_DISPLAY_CHARS)[0]
        return {"type": "reasoning", "content": shown if capture else None}
    if kind == "image_url" or kind in ("image", "audio", "video", "file"):
        url: Any = block.get("image_url", block.get("url"))
        if isinstance(url, Mapping):
            url = url.get("url")
        modality = "image" if kind == "image_url" else kind
        part: dict[str, Any] = {"type": "uri" if url else "blob", "modality": modality}
        mime = block.get("mime_type")
        if mime:
            part["mime_type"] = str(mime)
        if isinstance(url, str) and capture:
            part["uri"] = redact_text(_data_url(url))
        elif block.get("file_id"):
            part = {"type": "file", "modality": modality, "file_id": str(block["file_id"])}
        return part
    return {"type": kind or "unknown", "content": to_jsonable(block) if capture else None}


def _content_parts(content: Any, capture: bool) -> tuple[str, list[dict[str, Any]]]:
    """The text of ``content`` (blocks joined) and its non-text parts, in order."""
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, Mapping):
                if block.get("type") in ("text", None) and isinstance(block.get("text"), str):
                    texts.append(block["text"])
                    continue
                part = _block_part(block, capture)
                if part is not None:
                    others.append(part)
        return "".join(texts), others
    return str(to_jsonable(content)), []


def _role(message: BaseMessage) -> str:
    if message.type == "chat":
        role = str(getattr(message, "role", "user"))
        return _ROLES.get(role, role)
    kind = message.type
    if kind.endswith("MessageChunk"):  # streamed messages: AIMessageChunk, ...
        kind = _CHUNK_TYPES.get(kind, kind)
    return _ROLES.get(kind, kind)


def _tool_call_parts(message: BaseMessage, capture: bool) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for call in getattr(message, "tool_calls", None) or []:
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.get("name"),
                "arguments": to_jsonable(call.get("args")) if capture else None,
            }
        )
    # Calls whose arguments did not parse: the model asked for them all the same.
    for call in getattr(message, "invalid_tool_calls", None) or []:
        arguments = call.get("args")
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.get("name"),
                "arguments": to_jsonable(arguments) if capture else None,
                "invalid": True,
                "error": to_jsonable(call.get("error")) if capture else None,
            }
        )
    return parts


def semconv_message(
    message: BaseMessage, capture_content: bool, finish_reason: str | None = None
) -> dict[str, Any]:
    """A message in the OpenTelemetry GenAI shape: role, parts, optional name.

    Content is redacted before it is cut to the display limit, so no cut can leave part
    of a credential behind. With ``capture_content`` off, the shape (roles, part types,
    tool names and call ids) stays and every content value is ``None``.
    """
    out: dict[str, Any] = {"role": _role(message)}
    if message.name:
        out["name"] = to_jsonable(message.name)
    text, others = _content_parts(message.content, capture_content)
    shown = limit(redact_text(text), _MESSAGE_DISPLAY_CHARS)[0] if text else None
    tool_call_id = getattr(message, "tool_call_id", None)
    if tool_call_id:
        response = shown if capture_content else None
        parts: list[dict[str, Any]] = [
            {"type": "tool_call_response", "id": tool_call_id, "response": response}
        ]
    else:
        parts = []
        if shown is not None:
            parts.append({"type": "text", "content": shown if capture_content else None})
        parts.extend(others)
        parts.extend(_tool_call_parts(message, capture_content))
    out["parts"] = parts
    if finish_reason:
        out["finish_reason"] = finish_reason
    return out


def messages_json(codec: MessageCodec, messages: Sequence[BaseMessage]) -> str:
    """A JSON array of the messages in the semconv shape (each encoded once, cached)."""
    return "[" + ",".join(codec.encode(m).display for m in messages) + "]"


def encode_history(
    codec: MessageCodec,
    messages: Sequence[BaseMessage],
    recorder: Recorder,
    blobs: dict[str, str],
) -> tuple[str, list[str], bool]:
    """Display JSON (newest kept when cut), payload hashes, and whether all were kept."""
    found = codec.encode_list(messages)
    encoded = found.encoded if found is not None else [codec.encode(m) for m in messages]
    hashes: list[str] = []
    whole = True
    for item in encoded:
        digest = (
            recorder.content.put(item.payload, blobs, item.digest)
            if codec.capture_content
            else None
        )
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
