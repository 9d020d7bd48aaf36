"""Recorded LlamaIndex payloads revived as LlamaIndex objects.

Capture keeps them whole as `to_jsonable` JSON: a model's ``ChatResponse`` or
``CompletionResponse`` by its fields, a retriever's nodes in LlamaIndex's own
``to_dict`` form, a root call's arguments by name. One loss is mended here: a
``MessageRole`` is a ``str`` enum, so it was stored as ``"MessageRole.USER"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracetape.replay.recording import NotReplayableError

_ROLE_PREFIX = "MessageRole."


def mend_roles(value: Any) -> Any:
    """``{"role": "MessageRole.USER"}`` -> ``{"role": "user"}``, anywhere in ``value``."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            if key == "role" and isinstance(item, str) and item.startswith(_ROLE_PREFIX):
                out[str(key)] = item[len(_ROLE_PREFIX) :].lower()  # pyright: ignore[reportUnknownArgumentType]
            else:
                out[str(key)] = mend_roles(item)  # pyright: ignore[reportUnknownArgumentType]
        return out
    if isinstance(value, list):
        return [mend_roles(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def model_response(value: Any, chat: bool) -> Any:
    """A recorded ``ChatResponse`` (``chat``) or ``CompletionResponse``."""
    from llama_index.core.base.llms.types import ChatResponse, CompletionResponse

    cls = ChatResponse if chat else CompletionResponse
    return cls.model_validate(mend_roles(value))


def as_chunk(response: Any) -> Any:
    """A whole response as the one chunk of a stream: its ``delta`` is all of the text
    (a stream's last chunk, as recorded, carries the whole text but only the last
    delta)."""
    message = getattr(response, "message", None)
    text = message.content if message is not None else getattr(response, "text", None)
    return response.model_copy(update={"delta": text or ""})


def tool_output(value: Any, error: tuple[str, str] | None) -> Any:
    """A recorded ``ToolOutput``; a failed call's exception rebuilt from its record."""
    from llama_index.core.tools.types import ToolOutput

    from tracetape.replay.result import recorded_error

    fields: Mapping[str, Any] = value if isinstance(value, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]
    return ToolOutput(
        tool_name=str(fields.get("tool_name") or ""),
        blocks=mend_roles(fields.get("blocks")) or None,
        raw_input=fields.get("raw_input") or {},
        raw_output=fields.get("raw_output"),
        is_error=bool(fields.get("is_error")),
        exception=recorded_error(*error) if error is not None else None,
    )


def _node_classes() -> dict[str, type[Any]]:
    from llama_index.core.schema import BaseNode

    out: dict[str, type[Any]] = {}
    stack: list[type[Any]] = [BaseNode]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if not getattr(cls, "__abstractmethods__", None):
            out.setdefault(cls.class_name(), cls)
    return out


def nodes(value: Any) -> list[Any]:
    """Recorded ``NodeWithScore`` dicts as ``NodeWithScore`` objects."""
    from llama_index.core.schema import NodeWithScore

    if not isinstance(value, list):
        raise NotReplayableError("a recorded retrieval did not keep its nodes as a list")
    classes = _node_classes()
    out: list[Any] = []
    for item in value:  # pyright: ignore[reportUnknownVariableType]
        entry: Mapping[str, Any] = item if isinstance(item, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]
        node: dict[str, Any] = dict(entry.get("node") or {})
        cls = classes.get(str(node.get("class_name")))
        if cls is None:
            raise NotReplayableError(
                f"a recorded node has an unknown class {node.get('class_name')!r}"
            )
        out.append(NodeWithScore(node=cls.from_dict(node), score=entry.get("score")))
    return out


def _argument(value: Any) -> Any:
    """One recorded argument of a root call: a query bundle, chat messages, or as is."""
    if isinstance(value, Mapping) and "query_str" in value:
        from llama_index.core.schema import QueryBundle

        fields = {k: v for k, v in value.items() if k != "embedding"}  # pyright: ignore[reportUnknownVariableType]
        return QueryBundle(**fields)  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, Mapping) and "role" in value and "blocks" in value:
        from llama_index.core.base.llms.types import ChatMessage

        return ChatMessage.model_validate(mend_roles(value))
    if isinstance(value, list):
        return [_argument(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def arguments(value: Any) -> dict[str, Any]:
    """A root call's recorded arguments (by parameter name), revived."""
    if not isinstance(value, Mapping):
        raise NotReplayableError("the root call's arguments were not kept by name")
    return {str(k): _argument(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _memory(value: Mapping[str, Any]) -> Any | None:
    """A ``ChatMemoryBuffer`` rebuilt from its recorded fields (its history as it was
    when the run started); None for any other kind of memory."""
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.memory import ChatMemoryBuffer

    chat_store: Any = value.get("chat_store")
    store: Any = chat_store.get("store") if isinstance(chat_store, Mapping) else None
    limit = value.get("token_limit")
    if not isinstance(store, Mapping) or not isinstance(limit, int) or len(store) > 1:  # pyright: ignore[reportUnknownArgumentType]
        return None
    history: Any = next(iter(store.values()), [])  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    messages = [ChatMessage.model_validate(mend_roles(m)) for m in history or []]  # pyright: ignore[reportUnknownVariableType]
    return ChatMemoryBuffer.from_defaults(token_limit=limit, chat_history=messages)


def start_kwargs(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a workflow's ``run`` builds its recorded start event from.

    Its memory is rebuilt when it was a ``ChatMemoryBuffer``, else left to the app's
    default; every other field is revived like a root call's argument.
    """
    start: Any = arguments.get("start_event")
    data: Any = start.get("data") if isinstance(start, Mapping) else None
    if not isinstance(data, Mapping):
        raise NotReplayableError(
            "the workflow's start event was not kept whole (recorded by an older tracetape)"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():  # pyright: ignore[reportUnknownVariableType]
        if key == "memory":
            memory = _memory(value) if isinstance(value, Mapping) else None  # pyright: ignore[reportUnknownArgumentType]
            if memory is not None:
                out["memory"] = memory
            continue
        out[str(key)] = _argument(value)  # pyright: ignore[reportUnknownArgumentType]
    return out
