"""Chain / graph / node inputs and outputs as JSON, messages encoded once each."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage

from tracetape.capture.langchain.messages import MessageCodec
from tracetape.spans.encode import dumps, to_jsonable

_MAX_ITEMS = 500


def io_json(value: Any, codec: MessageCodec, depth: int = 0) -> str:
    """JSON text of a chain input/output; messages reuse their cached encodings."""
    if isinstance(value, BaseMessage):
        return codec.encode(value).display
    if depth < 4 and isinstance(value, Mapping):
        items = list(value.items())[:_MAX_ITEMS]
        body = ",".join(
            json.dumps(str(k), ensure_ascii=False) + ":" + io_json(v, codec, depth + 1)
            for k, v in items
        )
        return "{" + body + "}"
    if (
        depth < 4
        and isinstance(value, list | tuple)
        and value
        and any(isinstance(v, BaseMessage) for v in value[:_MAX_ITEMS])
    ):
        return "[" + ",".join(io_json(v, codec, depth + 1) for v in value[:_MAX_ITEMS]) + "]"
    return dumps(to_jsonable(value))


def replay_payload(value: Any) -> str | None:
    """The whole value in LangChain's serialised form (``dumpd``), for replay."""
    from langchain_core.load import dumpd

    try:
        return dumps(to_jsonable(dumpd(value)))
    except (TypeError, ValueError, AttributeError, RecursionError):
        return dumps(to_jsonable(value))
