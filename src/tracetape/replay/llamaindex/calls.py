"""What a LlamaIndex model or retriever call asks, in the form capture records it, and
as readable lines for a divergence's diff.

A model request is compared whole: the JSON capture hashes into
``tracetape.replay.input`` (messages or prompt, call kwargs, tools; redacted) is built
here the same way from the live call, so the two digests are equal exactly when the
requests are. The model's parameters (``tracetape.model.invocation_params``) compare
too, when both sides kept them whole. A retriever compares by its class, vector store,
embedding model, search settings and query text. ``node_ids`` is left out of the
settings: ``as_retriever`` passes the index's own node list, whose ids are new each time
an index is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracetape.capture.llamaindex import components
from tracetape.replay.llamaindex._compat import ModelCall
from tracetape.replay.recording import json_value
from tracetape.replay.requests import canonical
from tracetape.spans import semconv
from tracetape.spans.encode import content_hash, dumps, to_jsonable
from tracetape.spans.recorder import Recorder

_LINE_CHARS = 400
_UNCOMPARED_SETTINGS = frozenset({"node_ids"})


def recorded_json(attrs: Mapping[str, Any], key: str) -> Any:
    """A JSON attribute as recorded (text on a live span, parsed in the view); None when
    absent or cut for display (not comparable)."""
    value = attrs.get(key)
    if value is None or key in (attrs.get(semconv.TRUNCATED) or ()):
        return None
    return json_value(value)


# -- model calls ------------------------------------------------------------------------
def model_request(call: ModelCall) -> tuple[str, Any]:
    """(digest, JSON) of a live model request, built as capture builds it."""
    extra = dict(call.kwargs)
    tools = extra.pop("tools", None)
    if call.chat:
        messages = call.args[0] if call.args else extra.pop("messages", [])
        request: Any = {"messages": list(messages), "kwargs": extra, "tools": tools}
    else:
        prompt = str(call.args[0]) if call.args else extra.get("prompt")
        request = {"prompt": prompt, "kwargs": extra}
    text = dumps(to_jsonable(request))
    return content_hash(text), json_value(text)


def model_params(llm: Any, call: ModelCall, recorder: Recorder) -> Any:
    """The live call's invocation params as capture displays them (None if cut)."""
    extra = {k: v for k, v in call.kwargs.items() if k != "tools"}
    to_payload: Any = getattr(llm, "to_payload", None)
    model_dict: Any = to_payload() if callable(to_payload) else {}
    attrs: dict[str, Any] = {}
    recorder.display(semconv.INVOCATION_PARAMS, to_jsonable({**model_dict, **extra}), attrs)
    return recorded_json(attrs, semconv.INVOCATION_PARAMS)


def _short(text: str) -> str:
    return text if len(text) <= _LINE_CHARS else text[:_LINE_CHARS] + "…"


def _labelled(label: str, text: str) -> list[str]:
    rows = text.splitlines() or [""]
    return [_short(f"{label}: {rows[0]}"), *(_short(f"  {row}") for row in rows[1:])]


def _message_text(message: Mapping[str, Any]) -> str:
    blocks: Any = message.get("blocks")
    if isinstance(blocks, list):
        parts = [
            str(b.get("text")) if isinstance(b, Mapping) and "text" in b else canonical(b)  # pyright: ignore[reportUnknownMemberType]
            for b in blocks  # pyright: ignore[reportUnknownVariableType]
        ]
        return "".join(parts)
    content = message.get("content")
    return content if isinstance(content, str) else canonical(content)


def _message_lines(message: Any) -> list[str]:
    if not isinstance(message, Mapping):
        return [_short(canonical(message))]
    role = str(message.get("role") or "message").removeprefix("MessageRole.").lower()  # pyright: ignore[reportUnknownMemberType]
    lines = _labelled(role, _message_text(message))  # pyright: ignore[reportUnknownArgumentType]
    kwargs: Any = message.get("additional_kwargs") or {}  # pyright: ignore[reportUnknownMemberType]
    if isinstance(kwargs, Mapping) and kwargs:
        lines.append(_short(f"  [additional_kwargs] {canonical(kwargs)}"))
    return lines


def model_lines(request: Any, params: Any = None) -> list[str]:
    """A model request as lines to diff: messages (or the prompt), kwargs, tools, params."""
    if not isinstance(request, Mapping):
        return [_short(canonical(request))]
    lines: list[str] = []
    messages: Any = request.get("messages")
    if isinstance(messages, list):
        for message in messages:  # pyright: ignore[reportUnknownVariableType]
            lines.extend(_message_lines(message))
    else:
        lines.extend(_labelled("prompt", str(request.get("prompt"))))  # pyright: ignore[reportUnknownMemberType]
    kwargs: Any = request.get("kwargs")
    if kwargs:
        lines.append(_short(f"[kwargs] {canonical(kwargs)}"))
    tools: Any = request.get("tools")
    if isinstance(tools, Sequence) and tools:
        lines.append(_short(f"[tools] {canonical(tools)}"))
    if params is not None:
        lines.append(_short(f"[params] {canonical(params)}"))
    return lines


# -- retriever calls --------------------------------------------------------------------
def _config(attrs: Mapping[str, Any]) -> dict[str, Any]:
    settings = recorded_json(attrs, semconv.RETRIEVER_SEARCH_KWARGS)
    if isinstance(settings, Mapping):
        settings = {k: v for k, v in settings.items() if k not in _UNCOMPARED_SETTINGS}  # pyright: ignore[reportUnknownVariableType]
    return {
        "retriever": attrs.get(semconv.RETRIEVER_CLASS),
        "vector store": attrs.get(semconv.RETRIEVER_VECTOR_STORE),
        "embedding model": attrs.get(semconv.RETRIEVER_EMBEDDING_MODEL),
        "search": settings,
        "query": attrs.get(semconv.RETRIEVAL_QUERY),
    }


def retriever_config(retriever: Any, query_bundle: Any, recorder: Recorder) -> dict[str, Any]:
    """What a live retrieval asks, read off the retriever as capture reads it."""
    attrs = components.retriever_attributes(retriever, recorder)
    attrs[semconv.RETRIEVAL_QUERY] = components.query_text(query_bundle)
    return _config(attrs)


def recorded_retriever_config(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """What a recorded retrieval asked, from its span's attributes."""
    return _config(attrs)


def retriever_lines(config: Mapping[str, Any]) -> list[str]:
    """A retrieval as lines to diff."""
    lines: list[str] = []
    for key, value in config.items():
        if value is not None:
            shown = value if isinstance(value, str) else canonical(value)
            lines.extend(_labelled(key, shown))
    return lines


# -- tool calls -------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolCall:
    """A tool call: the tool's name and its arguments as capture displays them (None
    when cut for display, then not compared)."""

    name: str
    arguments: Any

    def line(self) -> str:
        shown = "…" if self.arguments is None else canonical(self.arguments)
        return _short(f"{self.name}({shown})")


def tool_call(
    tool: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], recorder: Recorder
) -> ToolCall:
    """A live tool call, read as capture reads it (``ctx`` left out, as there)."""
    arguments = {"args": args, "kwargs": {k: v for k, v in kwargs.items() if k != "ctx"}}
    attrs = components.tool_attributes(tool, arguments, recorder)
    return recorded_tool_call(attrs)


def recorded_tool_call(attrs: Mapping[str, Any]) -> ToolCall:
    """A recorded tool call, from its span's attributes."""
    name = attrs.get(semconv.TOOL_NAME)
    return ToolCall(str(name), recorded_json(attrs, semconv.TOOL_CALL_ARGUMENTS))


def same_tool_call(recorded: ToolCall, asked: ToolCall) -> bool:
    """Same tool, and the same arguments where both were kept whole."""
    if recorded.name != asked.name:
        return False
    if recorded.arguments is None or asked.arguments is None:
        return True
    return canonical(recorded.arguments) == canonical(asked.arguments)
