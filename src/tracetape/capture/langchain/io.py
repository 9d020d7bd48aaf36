"""Chain / graph / node inputs and outputs as JSON, messages encoded once each.

A LangGraph state carries the whole conversation; composing its JSON from each
message's cached encoding keeps a node's input and output O(new messages) to encode.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.load import dumpd
from langchain_core.messages import BaseMessage

from tracetape.capture.langchain._compat import command_fields, is_command
from tracetape.capture.langchain.messages import MessageCodec
from tracetape.spans import semconv, typed
from tracetape.spans.encode import dumps, redacted_dumps, to_jsonable
from tracetape.spans.redact import REDACTED, is_secret_key

_MAX_ITEMS = 500
"""Items of one list or map shown in a displayed value; a replay payload keeps them all
(its size is capped whole, by the content store, which marks the span not replayable)."""
_MAX_DEPTH = 4


def _limit(payload: bool) -> int | None:
    return None if payload else _MAX_ITEMS


def _message_list(
    value: Any, codec: MessageCodec, depth: int, payload: bool, keep: bool = True
) -> str | None:
    """A list holding messages as JSON (each message from the codec's cache); None when
    ``value`` is no list or holds no message. One pass: a LangGraph state's list is
    composed on every node's start and end."""
    if not isinstance(value, list | tuple):
        return None
    whole = codec.encode_list(value[: _limit(payload)])  # pyright: ignore[reportUnknownArgumentType]
    if whole is not None:  # messages only: the usual case, shown again and again
        return whole.payload() if payload else whole.display()
    parts: list[str | None] = []
    found = False
    for item in value[: _limit(payload)]:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(item, BaseMessage):
            encoded = codec.encode(item)
            parts.append(encoded.payload if payload else encoded.display)
            found = True
        else:
            parts.append(None)
    if not found:
        return None
    items: Sequence[Any] = value[: _limit(payload)]  # pyright: ignore[reportUnknownVariableType]
    texts = [
        text if text is not None else _compose(item, codec, depth + 1, payload, keep)
        for text, item in zip(parts, items, strict=True)
    ]
    return "[" + ",".join(texts) + "]"


def _compose(value: Any, codec: MessageCodec, depth: int, payload: bool, keep: bool = True) -> str:
    """``value`` as JSON text: displayed, or (``payload``) whole in LangChain's form,
    with values JSON would change the type of kept as they were (``keep``)."""
    if isinstance(value, BaseMessage):
        encoded = codec.encode(value)
        return encoded.payload if payload else encoded.display
    command = command_fields(value) if payload and keep and depth < _MAX_DEPTH else None
    if command is not None:
        return _command(command, codec, depth)
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        parts: list[str] = []
        for key, item in list(value.items())[: _limit(payload)]:
            name = str(key)
            if is_secret_key(name) and item not in (None, ""):
                rendered = json.dumps(REDACTED)
            else:
                rendered = _compose(item, codec, depth + 1, payload, keep)
            parts.append(json.dumps(name, ensure_ascii=False) + ":" + rendered)
        return "{" + ",".join(parts) + "}"
    if depth < _MAX_DEPTH:
        listed = _message_list(value, codec, depth, payload, keep)
        if listed is not None:
            return listed
        if payload and keep and isinstance(value, list) and typed.found_in(value, also=is_command):
            # Item by item only when one is kept as what it was (a datetime, a Command):
            # one dumpd of a large plain list is ~10x cheaper.
            return "[" + ",".join(_compose(v, codec, depth + 1, True) for v in value) + "]"  # pyright: ignore[reportUnknownVariableType]
    if payload and keep:
        kept = typed.encode(value, lambda item: _compose(item, codec, depth + 1, True))
        if kept is not None:
            return kept
    if payload:
        try:
            return redacted_dumps(dumpd(value))
        except (TypeError, ValueError, AttributeError, RecursionError):
            return dumps(to_jsonable(value))
    return dumps(to_jsonable(value))


def _command(fields: dict[str, Any], codec: MessageCodec, depth: int) -> str:
    """A LangGraph ``Command`` (a resumed run's input, a tool's state update) in
    LangChain's serialised shape, which LangChain itself cannot give it: replay builds
    the Command again from its kwargs (``semconv.COMMAND_PAYLOAD_ID``)."""
    kwargs = ",".join(
        json.dumps(name) + ":" + _compose(value, codec, depth + 1, payload=True)
        for name, value in fields.items()
    )
    ident = json.dumps(list(semconv.COMMAND_PAYLOAD_ID))
    return '{"lc":1,"type":"tracetape","id":' + ident + ',"kwargs":{' + kwargs + "}}"


def io_json(value: Any, codec: MessageCodec) -> str:
    """Displayed JSON of a chain input/output (semconv shape for messages)."""
    return _compose(value, codec, 0, payload=False)


def replay_payload(value: Any, codec: MessageCodec, *, keep: bool = True) -> str:
    """The whole value in LangChain's serialised form (``dumpd``), for replay; without
    ``keep``, as tapes before `tracetape.spans.typed` stored it (a tuple as a list)."""
    return _compose(value, codec, 0, payload=True, keep=keep)
