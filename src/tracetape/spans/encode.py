"""Turn arbitrary Python values into redacted, size-limited JSON, never raising.

`to_jsonable` walks any value (pydantic models, dataclasses, numpy arrays, bytes,
exceptions, generators, cycles) into JSON-safe data, redacting secrets on the way.
`dumps` renders it compactly; `limit` cuts a rendered string to a display limit with an
explicit marker. `ContentStore` keeps whole payloads once per content hash.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final

from tracetape.spans.redact import REDACTED, is_secret_key, redact_text

TRUNCATION_MARKER: Final = "…[tracetape: truncated {shown} of {total} chars]"
MAX_DEPTH: Final = 32
MAX_ITEMS: Final = 10_000

JSONValue = Any  # a JSON-safe value: None, bool, int, float, str, list, dict[str, ...]


def _repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break recording
        text = f"<{type(value).__qualname__} (repr failed: {type(exc).__name__})>"
    return redact_text(text[:2000])


def to_jsonable(value: object, *, _depth: int = 0, _seen: set[int] | None = None) -> JSONValue:
    """Convert ``value`` to JSON-safe data with secrets redacted. Never raises.

    Example:
        >>> to_jsonable({"api_key": "sk-abc", "n": b"\\x00"})
        {'api_key': '[REDACTED]', 'n': '<bytes len=1>'}
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= MAX_DEPTH:
        return f"<{type(value).__qualname__}: nested too deep>"
    seen = _seen if _seen is not None else set()
    ident = id(value)
    if ident in seen:
        return f"<cycle: {type(value).__qualname__}>"
    seen.add(ident)
    try:
        return _container(value, _depth + 1, seen)
    except Exception:
        return _repr(value)
    finally:
        seen.discard(ident)


def _mapping(items: Mapping[Any, Any], depth: int, seen: set[int]) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {}
    for i, (key, item) in enumerate(items.items()):
        if i >= MAX_ITEMS:
            out["…"] = f"[tracetape: {len(items) - MAX_ITEMS} more items]"
            break
        name = key if isinstance(key, str) else str(key)
        if is_secret_key(name) and item not in (None, "", 0):
            out[name] = REDACTED
        else:
            out[name] = to_jsonable(item, _depth=depth, _seen=seen)
    return out


def _container(value: object, depth: int, seen: set[int]) -> JSONValue:
    if isinstance(value, Mapping):
        return _mapping(value, depth, seen)
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)[:MAX_ITEMS]
        out = [to_jsonable(item, _depth=depth, _seen=seen) for item in items]
        if len(value) > MAX_ITEMS:
            out.append(f"[tracetape: {len(value) - MAX_ITEMS} more items]")
        return out
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<bytes len={len(value)}>"
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal | PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth=depth, _seen=seen)
    if isinstance(value, BaseException):
        return {"type": _qualname(type(value)), "message": redact_text(str(value)[:4000])}
    type_name = type(value).__name__
    if type_name == "SecretStr" or type_name == "SecretBytes":
        return REDACTED
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return to_jsonable(dump(mode="python"), _depth=depth, _seen=seen)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return _mapping(fields, depth, seen)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and hasattr(value, "shape"):
        size = getattr(value, "size", 0)
        if isinstance(size, int) and size > MAX_ITEMS:
            return f"<{type_name} shape={getattr(value, 'shape', '?')}>"
        return to_jsonable(tolist(), _depth=depth, _seen=seen)
    return _repr(value)


def _qualname(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def dumps(value: object) -> str:
    """Compact JSON of an already JSON-safe value (see `to_jsonable`)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_repr)


def encode(value: object) -> str:
    """`to_jsonable` then `dumps`: the usual way to put a Python value in an attribute."""
    return dumps(to_jsonable(value))


def limit(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut ``text`` to ``max_chars`` with an explicit marker; returns (text, was_cut)."""
    if len(text) <= max_chars:
        return text, False
    marker = TRUNCATION_MARKER.format(shown=max_chars, total=len(text))
    return text[:max_chars] + marker, True


def limit_json(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut JSON ``text`` to about ``max_chars``, keeping it valid JSON.

    A cut value becomes ``{"tracetape.truncated": true, "total_chars": N, "head": "..."}``
    so SQL over it still parses, and the cut is never silent.
    """
    if len(text) <= max_chars:
        return text, False
    return dumps({"tracetape.truncated": True, "total_chars": len(text), "head": text[:max_chars]}), True


def content_hash(text: str) -> str:
    """The content address of a payload: sha256 hex of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def qualname(cls: type) -> str:
    """``module.QualName`` of a class (``QualName`` for builtins)."""
    return _qualname(cls)
