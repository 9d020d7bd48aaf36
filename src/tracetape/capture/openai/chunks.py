"""Streamed ``chat.completion.chunk`` events -> the ``chat.completion`` a plain call returns.

A streamed response is recorded (and kept for replay) as the completion a non-streaming
call would have returned: content and refusal joined, tool-call fragments put together
by index, the finish reason of every choice, and the usage chunk that
``stream_options={"include_usage": True}`` adds at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Call:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: list[str] = field(default_factory=list[str])


@dataclass
class _Choice:
    role: str = "assistant"
    content: list[str] = field(default_factory=list[str])
    refusal: list[str] = field(default_factory=list[str])
    calls: dict[int, _Call] = field(default_factory=dict[int, _Call])
    finish_reason: str | None = None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class ChunkAccumulator:
    """Feed it every chunk with `add`; `completion` gives what was streamed so far."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.usage: Any = None
        self.choices: dict[int, _Choice] = {}
        self.count = 0

    def add(self, chunk: Any) -> bool:
        """Take in one chunk; True if it carried generated content (a token)."""
        self.count += 1
        for key in ("id", "model", "created", "system_fingerprint", "service_tier"):
            value = getattr(chunk, key, None)
            if value is not None:
                self.head[key] = value
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            to_dict = getattr(usage, "to_dict", None)
            self.usage = to_dict(mode="json", warnings=False) if callable(to_dict) else usage
        token = False
        for choice in getattr(chunk, "choices", None) or ():
            index = getattr(choice, "index", 0)
            state = self.choices.setdefault(index if isinstance(index, int) else 0, _Choice())
            reason = _str(getattr(choice, "finish_reason", None))
            if reason:
                state.finish_reason = reason
            delta = getattr(choice, "delta", None)
            if delta is not None:
                token = self._delta(state, delta) or token
        return token

    def _delta(self, state: _Choice, delta: Any) -> bool:
        token = False
        role = _str(getattr(delta, "role", None))
        if role:
            state.role = role
        for key, parts in (("content", state.content), ("refusal", state.refusal)):
            text = getattr(delta, key, None)
            if isinstance(text, str) and text:
                parts.append(text)
                token = True
        for piece in getattr(delta, "tool_calls", None) or ():
            index = getattr(piece, "index", 0)
            call = state.calls.setdefault(index if isinstance(index, int) else 0, _Call())
            call.id = _str(getattr(piece, "id", None)) or call.id
            call.type = _str(getattr(piece, "type", None)) or call.type
            function = getattr(piece, "function", None)
            if function is not None:
                call.name += _str(getattr(function, "name", None)) or ""
                call.arguments.append(_str(getattr(function, "arguments", None)) or "")
            token = True
        return token

    def completion(self) -> dict[str, Any]:
        """The ``chat.completion`` body assembled from the chunks seen so far."""
        choices: list[dict[str, Any]] = []
        for index in sorted(self.choices):
            state = self.choices[index]
            message: dict[str, Any] = {
                "role": state.role,
                "content": "".join(state.content) if state.content or not state.calls else None,
            }
            if state.refusal:
                message["refusal"] = "".join(state.refusal)
            if state.calls:
                message["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": call.type,
                        "function": {"name": call.name, "arguments": "".join(call.arguments)},
                    }
                    for _, call in sorted(state.calls.items())
                ]
            choices.append(
                {"index": index, "message": message, "finish_reason": state.finish_reason}
            )
        body: dict[str, Any] = {**self.head, "object": "chat.completion", "choices": choices}
        if self.usage is not None:
            body["usage"] = self.usage
        return body
