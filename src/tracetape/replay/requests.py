"""What a recorded or re-run request is, as a comparable key and as readable lines.

A request is compared whole: every message in LangChain's serialised form (redacted,
as capture stores it) and, for a model call, the invocation params and bound tools.
Raw ``openai`` SDK calls are compared by the content hashes capture keeps (see
`openai_sdk`); their wire messages and a completion model's prompts are shown as lines
here too. Message ids are left out: LangGraph gives each new message a random ``uuid4`` id, so
they differ between any two runs of the same app on the same input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tracetape.spans.encode import redacted_dumps

_LINE_CHARS = 400
_MESSAGE_CLASSES = ("Message", "MessageChunk")


def canonical(value: Any) -> str:
    """Key-sorted compact JSON: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """sha256 hex of `canonical`."""
    return hashlib.sha256(canonical(value).encode("utf-8", "surrogatepass")).hexdigest()


def without_id(message: Any) -> Any:
    """A serialised message (``dumpd`` form) without its run-specific ``id``."""
    if isinstance(message, Mapping) and isinstance(message.get("kwargs"), Mapping):
        kwargs: dict[str, Any] = {
            str(k): v
            for k, v in message["kwargs"].items()  # pyright: ignore[reportUnknownVariableType]
            if k != "id"
        }
        return {**message, "kwargs": kwargs}
    return message


def comparable(value: Any) -> Any:
    """A stored value (``dumpd`` form) as outputs are compared: each message (however
    deep: a LangGraph state, a list) reduced to its class, name, text and tool calls by
    name and arguments. Ids, call ids and response metadata differ from run to run."""
    if isinstance(value, list):
        return [comparable(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(value, Mapping):
        return value
    ident: Any = value.get("id")
    kwargs: Any = value.get("kwargs")
    cls = str(ident[-1]) if isinstance(ident, list) and ident else ""  # pyright: ignore[reportUnknownArgumentType]
    if cls.endswith(_MESSAGE_CLASSES) and isinstance(kwargs, Mapping):
        calls = [
            (c.get("name"), c.get("args"))  # pyright: ignore[reportUnknownMemberType]
            for key in ("tool_calls", "invalid_tool_calls")
            for c in kwargs.get(key) or []  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(c, Mapping)
        ]
        return [cls, kwargs.get("name"), kwargs.get("content"), calls]  # pyright: ignore[reportUnknownMemberType]
    return {str(k): comparable(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]


def live_message(message: Any) -> Any:
    """A live LangChain message in its stored form: ``dumpd``, redacted, chunks merged."""
    from langchain_core.load import dumpd
    from langchain_core.messages import BaseMessageChunk, message_chunk_to_message

    if isinstance(message, BaseMessageChunk):
        message = message_chunk_to_message(message)
    return json.loads(redacted_dumps(dumpd(message)))


def message_key(message: Any) -> str:
    """The key of one serialised message (its id left out)."""
    return digest(without_id(message))


def model_key(messages: Sequence[Any], params: Any, tools: Any) -> str:
    """The key of a model request: messages (ids left out), params and bound tools."""
    return digest({"messages": [without_id(m) for m in messages], "params": params, "tools": tools})


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(str(block["text"]))  # pyright: ignore[reportUnknownArgumentType]
            else:
                parts.append(canonical(block))
        return "".join(parts)
    return canonical(content)


def _short(text: str) -> str:
    return text if len(text) <= _LINE_CHARS else text[:_LINE_CHARS] + "…"


def _wire_lines(message: Mapping[str, Any]) -> list[str]:
    """An OpenAI wire message (``{"role", "content", "tool_calls"?, ...}``) as lines."""
    role = str(message.get("role") or "message")
    lines: list[str] = []
    for i, line in enumerate(_text(message.get("content") or "").splitlines() or [""]):
        lines.append(f"{role}: {_short(line)}" if i == 0 else f"  {_short(line)}")
    if message.get("tool_call_id"):
        lines.append(f"  (answers tool call {message['tool_call_id']})")
    for call in message.get("tool_calls") or []:
        if isinstance(call, Mapping):
            function: Any = call.get("function") or {}  # pyright: ignore[reportUnknownMemberType]
            name = function.get("name") if isinstance(function, Mapping) else None  # pyright: ignore[reportUnknownMemberType]
            args = function.get("arguments") if isinstance(function, Mapping) else None  # pyright: ignore[reportUnknownMemberType]
            lines.append(_short(f"  -> {name}({args}) id={call.get('id')}"))  # pyright: ignore[reportUnknownMemberType]
    return lines


def message_lines(message: Any) -> list[str]:
    """One serialised message as readable lines: ``role: text`` and its tool calls."""
    if not isinstance(message, Mapping):
        return [_short(canonical(message))]
    if "role" in message and "lc" not in message:
        return _wire_lines(message)  # pyright: ignore[reportUnknownArgumentType]
    ident: Any = message.get("id")
    cls = str(ident[-1]) if isinstance(ident, list) and ident else "message"
    kwargs: Mapping[str, Any] = message.get("kwargs") or {}  # pyright: ignore[reportUnknownVariableType, reportAssignmentType]
    role = cls.removesuffix("MessageChunk").removesuffix("Message").lower() or "message"
    lines: list[str] = []
    for i, line in enumerate(_text(kwargs.get("content", "")).splitlines() or [""]):
        lines.append(f"{role}: {_short(line)}" if i == 0 else f"  {_short(line)}")
    if kwargs.get("tool_call_id"):
        lines.append(f"  (answers tool call {kwargs['tool_call_id']})")
    for call in kwargs.get("tool_calls") or []:
        if isinstance(call, Mapping):
            args = canonical(call.get("args"))  # pyright: ignore[reportUnknownMemberType]
            lines.append(_short(f"  -> {call.get('name')}({args}) id={call.get('id')}"))  # pyright: ignore[reportUnknownMemberType]
    return lines


def request_lines(messages: Sequence[Any], params: Any = None, tools: Any = None) -> list[str]:
    """A model request as lines to diff: the messages, then params and tools."""
    lines: list[str] = []
    for message in messages:
        lines.extend(message_lines(message))
    if params is not None:
        lines.append(_short(f"[params] {canonical(params)}"))
    if tools is not None:
        names = [
            str(t.get("function", {}).get("name"))  # pyright: ignore[reportUnknownMemberType]
            for t in tools  # pyright: ignore[reportUnknownVariableType]
            if isinstance(t, Mapping)
        ]
        lines.append(f"[tools] {', '.join(names)}")
        lines.append(_short(f"[tool definitions] {canonical(tools)}"))
    return lines


def prompt_lines(prompts: Sequence[Any], params: Any = None) -> list[str]:
    """A completion model's prompts as lines to diff, then its params."""
    lines: list[str] = []
    for prompt in prompts:
        for i, line in enumerate(str(prompt).splitlines() or [""]):
            lines.append(f"prompt: {_short(line)}" if i == 0 else f"  {_short(line)}")
    if params is not None:
        lines.append(_short(f"[params] {canonical(params)}"))
    return lines
