"""Values JSON would hand back as another type, kept for replay as what they were.

A datetime stored as JSON comes back as text, a tuple as a list, a pydantic model as a
dict: an app replayed with them may fail or take another path. A replay payload keeps
each of them in LangChain's serialised shape under an id of its own (``"type":
"tracetape"``, which LangChain's loader never sees), and replay builds the value again
(`tracetape.replay.typed_values`). A pydantic model is built again only from a class
the replaying process has imported already: a tape never makes it import anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import BaseModel

from tracetape.spans.encode import ordered
from tracetape.spans.redact import redact_text

TYPE: Final = "tracetape"
"""The ``type`` of a value stored here (LangChain's own are ``constructor`` etc.)."""
DATETIME: Final = ("datetime", "datetime")
DATE: Final = ("datetime", "date")
DECIMAL: Final = ("decimal", "Decimal")
BYTES: Final = ("builtins", "bytes")
TUPLE: Final = ("builtins", "tuple")
SET: Final = ("builtins", "set")
FROZENSET: Final = ("builtins", "frozenset")
PYDANTIC: Final = ("pydantic", "BaseModel")


def stored(ident: tuple[str, ...], kwargs: Mapping[str, str]) -> str:
    """The stored form: ``kwargs`` maps each name to its value's JSON text."""
    fields = ",".join(json.dumps(name) + ":" + text for name, text in kwargs.items())
    return (
        '{"lc":1,"type":"' + TYPE + '","id":' + json.dumps(list(ident)) + ',"kwargs":{'
        + fields + "}}"
    )  # fmt: skip


def encode(value: Any, compose: Callable[[Any], str]) -> str | None:
    """``value``'s stored form when JSON would change its type, else None. ``compose``
    gives a nested value's JSON text (messages in LangChain's form, secrets redacted)."""
    if isinstance(value, dt.datetime):
        return stored(DATETIME, {"iso": json.dumps(value.isoformat())})
    if isinstance(value, dt.date):
        return stored(DATE, {"iso": json.dumps(value.isoformat())})
    if isinstance(value, decimal.Decimal):
        return stored(DECIMAL, {"text": json.dumps(str(value))})
    if isinstance(value, bytes):
        # Redacted as text would be (latin-1 maps each byte to one character and back).
        kept = redact_text(value.decode("latin-1")).encode("latin-1", "replace")
        return stored(BYTES, {"base64": json.dumps(base64.b64encode(kept).decode("ascii"))})
    if isinstance(value, tuple):
        return stored(TUPLE, {"items": compose(list(value))})  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, set | frozenset):
        ident = SET if isinstance(value, set) else FROZENSET
        # In a stable order: a set iterates differently in every process.
        return stored(ident, {"items": compose(ordered(value))})  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, BaseModel) and not _langchain_serialisable(value):
        cls = type(value)
        fields = {name: getattr(value, name) for name in cls.model_fields}
        fields.update(value.__pydantic_extra__ or {})
        path = f"{cls.__module__}:{cls.__qualname__}"
        return stored(PYDANTIC, {"class": json.dumps(path), "fields": compose(fields)})
    return None


def found_in(value: Any, depth: int = 0, also: Callable[[Any], bool] | None = None) -> bool:
    """Whether ``value`` holds, a few levels deep, a value JSON would change the type of
    (or one ``also`` picks)."""
    if type(value) in _PLAIN:  # most items of a large payload: answered at once
        return False
    if isinstance(value, dt.date | decimal.Decimal | bytes | tuple | set | frozenset):
        return True
    if also is not None and also(value):
        return True
    if isinstance(value, BaseModel):
        return not _langchain_serialisable(value)
    if depth >= _DEPTH:
        return False
    if isinstance(value, Mapping):
        return any(found_in(v, depth + 1, also) for v in value.values())  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return any(found_in(v, depth + 1, also) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return False


_DEPTH = 4
_PLAIN: Final = frozenset({str, int, float, bool, type(None)})


def _langchain_serialisable(value: BaseModel) -> bool:
    """LangChain's own objects (messages, documents) keep LangChain's serialised form."""
    is_serialisable = getattr(type(value), "is_lc_serializable", None)
    return callable(is_serialisable) and bool(is_serialisable())
