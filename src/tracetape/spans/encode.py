"""Turn arbitrary Python values into redacted, size-limited JSON, never raising.

`to_jsonable` walks any value (pydantic models, dataclasses, numpy arrays, bytes,
exceptions, generators, cycles) into JSON-safe data, redacting secrets on the way.
`dumps` renders it compactly; `limit` cuts a rendered string to a display limit with an
explicit marker, and `limit_json` does so keeping the text valid JSON.

What it never does: raise, consume an iterator or generator, call a user's ``__str__``
other than through ``repr`` behind a guard, or emit text that is not valid UTF-8.
Memory addresses (``at 0x7f...``) are dropped from reprs, so the same value encodes to
the same text in every process and content hashes stay stable for replay.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from itertools import islice
from pathlib import PurePath
from typing import Any, Final

import orjson

from tracetape.spans.redact import REDACTED, is_secret_key, redact_text

TRUNCATION_MARKER: Final = "…[tracetape: truncated {shown} of {total} chars]"
MAX_DEPTH: Final = 32
MAX_ITEMS: Final = 10_000
MAX_NODES: Final = 200_000
MAX_REPR_CHARS: Final = 2000
BYTES_PREVIEW: Final = 64

JSONValue = Any  # a JSON-safe value: None, bool, int, float, str, list, dict[str, ...]

_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SECRET_TYPES: Final = frozenset({"SecretStr", "SecretBytes", "Secret"})
_SCHEMA_WORDS: Final = frozenset(
    {"type", "$ref", "anyOf", "oneOf", "allOf", "items", "enum", "properties", "format"}
)


def _utf8(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) replaced, so it encodes as UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _type_name(value: object) -> str:
    return type(value).__qualname__


def _repr(value: object) -> str:
    try:
        text = repr(value)
        if not isinstance(text, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError("__repr__ returned a non-string")
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break recording
        text = f"<{_type_name(value)} (repr failed: {type(exc).__name__})>"
    text = _ADDRESS.sub("", text)
    text, _ = limit(text, MAX_REPR_CHARS)
    return _utf8(redact_text(text))


class _Walk:
    """State of one `to_jsonable` call: containers on the path, values left to visit."""

    __slots__ = ("budget", "path")

    def __init__(self) -> None:
        self.path: set[int] = set()
        self.budget = MAX_NODES


def to_jsonable(value: object) -> JSONValue:
    """Convert ``value`` to JSON-safe data with secrets redacted. Never raises.

    Example:
        >>> to_jsonable({"api_key": "sk-abc", "n": b"\\x00"})
        {'api_key': '[REDACTED]', 'n': "<bytes len=1 b'\\\\x00'>"}
    """
    return _walk(value, 0, _Walk())


def _walk(value: object, depth: int, walk: _Walk) -> JSONValue:
    walk.budget -= 1
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # an int subclass (IntEnum, numpy) becomes a plain int
    if isinstance(value, str):
        return _utf8(redact_text(str(value)))
    if isinstance(value, float):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if walk.budget < 0:
        return "[tracetape: value too large, rest omitted]"
    if depth >= MAX_DEPTH:
        return f"<{_type_name(value)}: nested too deep>"
    ident = id(value)
    if ident in walk.path:
        return f"<cycle: {_type_name(value)}>"
    walk.path.add(ident)
    try:
        return _container(value, depth + 1, walk)
    except Exception as exc:  # noqa: BLE001 - user objects may fail any way at all
        if isinstance(value, Mapping):  # never repr a mapping: its secrets are not keyed
            return f"<{_type_name(value)}: not serialisable ({type(exc).__name__})>"
        return _repr(value)
    finally:
        walk.path.discard(ident)


_KEYS: dict[str, str] = {}
_MAX_KEYS: Final = 8192


def _key(key: object) -> str:
    if isinstance(key, str):
        # Mapping keys are a small recurring set; redact each once.
        clean = _KEYS.get(key)
        if clean is None:
            clean = _utf8(redact_text(key))
            if len(_KEYS) < _MAX_KEYS:
                _KEYS[key] = clean
        return clean
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return _repr(key)


def _mapping(
    items: Iterator[tuple[Any, Any]], size: int, depth: int, walk: _Walk, schema: bool = False
) -> JSONValue:
    out: dict[str, JSONValue] = {}
    for key, item in islice(items, MAX_ITEMS):
        name = _key(key)
        if schema and isinstance(item, Mapping) and not _SCHEMA_WORDS.isdisjoint(item):
            # JSON-schema ``properties``: names of parameters (``api_key``) whose values
            # are schemas, not secrets; a tool definition must survive for re-runs.
            out[name] = _walk(item, depth, walk)
        elif is_secret_key(name) and not (item is None or (isinstance(item, str) and not item)):
            out[name] = REDACTED
        elif name == "properties" and isinstance(item, Mapping) and depth < MAX_DEPTH:
            out[name] = _schema_properties(item, depth, walk)
        else:
            out[name] = _walk(item, depth, walk)
    if size > MAX_ITEMS:
        out["…"] = f"[tracetape: {size - MAX_ITEMS} more items]"
    return out


def _schema_properties(value: Mapping[Any, Any], depth: int, walk: _Walk) -> JSONValue:
    walk.budget -= 1
    ident = id(value)
    if ident in walk.path:
        return f"<cycle: {_type_name(value)}>"
    walk.path.add(ident)
    try:
        return _mapping(iter(value.items()), len(value), depth + 1, walk, schema=True)
    except Exception as exc:  # noqa: BLE001 - user objects may fail any way at all
        return f"<{_type_name(value)}: not serialisable ({type(exc).__name__})>"
    finally:
        walk.path.discard(ident)


def _sequence(items: Iterator[Any], size: int, depth: int, walk: _Walk) -> list[JSONValue]:
    out = [_walk(item, depth, walk) for item in islice(items, MAX_ITEMS)]
    if size > MAX_ITEMS:
        out.append(f"[tracetape: {size - MAX_ITEMS} more items]")
    return out


def ordered(items: set[Any] | frozenset[Any]) -> list[Any]:
    """A set's items in a stable order (sets iterate differently in every process)."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=_repr)


def _bytes(value: bytes | bytearray | memoryview) -> str:
    data = bytes(value[:BYTES_PREVIEW]) if not isinstance(value, memoryview) else b""
    size = value.nbytes if isinstance(value, memoryview) else len(value)
    preview = f" {data!r}" if data else ""
    more = "…" if size > BYTES_PREVIEW and data else ""
    return _utf8(redact_text(f"<{type(value).__name__} len={size}{preview}{more}>"))


def _container(value: object, depth: int, walk: _Walk) -> JSONValue:
    if isinstance(value, Mapping):
        return _mapping(iter(value.items()), len(value), depth, walk)
    if isinstance(value, list | tuple):
        return _sequence(iter(value), len(value), depth, walk)
    if isinstance(value, set | frozenset):
        return _sequence(iter(ordered(value)), len(value), depth, walk)
    if isinstance(value, bytes | bytearray | memoryview):
        return _bytes(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID | Decimal | PurePath | complex):
        return redact_text(str(value))
    if isinstance(value, enum.Enum):
        return _walk(value.value, depth, walk)
    if isinstance(value, BaseException):
        return _exception(value)
    if isinstance(value, type):
        return _repr(value)
    if _type_name(value) in _SECRET_TYPES:
        return REDACTED
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, Mapping) and hasattr(value, "model_dump"):
        return _pydantic(value, fields, depth, walk)
    if dataclasses.is_dataclass(value):
        names = [f.name for f in dataclasses.fields(value)]
        items = ((name, getattr(value, name, None)) for name in names)
        return _mapping(items, len(names), depth, walk)
    if hasattr(value, "tolist") and hasattr(value, "shape") and hasattr(value, "dtype"):
        return _array(value, depth, walk)
    return _repr(value)


def _pydantic(value: object, fields: Mapping[str, Any], depth: int, walk: _Walk) -> JSONValue:
    """A pydantic model's declared (and extra) fields, walked like a mapping.

    Reading the attributes, rather than ``model_dump``, survives cycles and custom
    serialisers that raise, and copies nothing.
    """
    extra = getattr(value, "__pydantic_extra__", None)
    names = [*fields, *(extra or {})]
    items = ((name, getattr(value, name, None)) for name in names)
    return _mapping(items, len(names), depth, walk)


def _array(value: Any, depth: int, walk: _Walk) -> JSONValue:
    size = getattr(value, "size", 0)
    if isinstance(size, int) and size > MAX_ITEMS:
        shape = tuple(getattr(value, "shape", ()))
        return f"<{_type_name(value)} shape={shape} dtype={getattr(value, 'dtype', '?')}>"
    return _walk(value.tolist(), depth, walk)


def _exception(value: BaseException) -> JSONValue:
    try:
        message = str(value)
    except Exception as exc:  # noqa: BLE001 - a broken __str__ must not break recording
        message = f"<str failed: {type(exc).__name__}>"
    shown, _ = limit(message, 4000)
    return {"type": _qualname(type(value)), "message": _utf8(redact_text(shown))}


def _qualname(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


# Built once: ``json.dumps`` with options builds an encoder per call (~1 µs of each).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_repr)
_STRICT = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_repr, allow_nan=False
)


def dumps(value: object) -> str:
    """Compact JSON of an already JSON-safe value (see `to_jsonable`); valid UTF-8."""
    return _utf8(_COMPACT.encode(value))


def rough_size(value: Any) -> int:
    """About how many characters ``value`` (texts, token ids, lists of them) takes as
    JSON, without serialising it: to skip keeping what is far over a size cap."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, int | float):
        return 6
    if isinstance(value, list | tuple):
        return sum(rough_size(item) for item in value)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return 64


def is_json(text: str) -> bool:
    """Whether ``text`` is one JSON value: checked with orjson (~5x faster; a writer
    checks every JSON attribute of every span), then, for what only the standard parser
    accepts (``NaN``, a lone surrogate), with it. (Validation only: orjson reads
    integers beyond 64 bits as floats, so values are parsed with the standard parser.)"""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            json.loads(text)
        except ValueError:
            return False
    return True


def redacted_dumps(value: object) -> str:
    """JSON of data that is already JSON-shaped (LangChain's ``dumpd`` output), redacted.

    One C-speed ``json.dumps`` and one scan of the text, instead of a Python walk:
    credential shapes, ``"secret_name": "value"`` pairs and environment secrets are
    replaced in the text. Anything unusual, or a replacement that broke the JSON, falls
    back to `to_jsonable`.
    """
    try:
        text = _STRICT.encode(value)
    except (TypeError, ValueError, RecursionError):
        return dumps(to_jsonable(value))
    redacted = redact_text(text)
    if redacted != text:  # rare: check that no replacement ran over JSON syntax
        try:
            json.loads(redacted)
        except ValueError:  # e.g. ``"secret":123}`` read as one unquoted value
            return dumps(to_jsonable(value))
    return _utf8(redacted)


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
    """Cut JSON ``text`` to at most about ``max_chars``, keeping it valid JSON.

    A cut value becomes ``{"tracetape.truncated": true, "total_chars": N,
    "shown_chars": M, "head": "<the first M chars of the JSON text>"}`` so SQL over it
    still parses, and the cut is never silent.
    """
    if len(text) <= max_chars:
        return text, False
    shown = max(max_chars - 96, 0)
    while True:
        rendered = dumps(
            {
                "tracetape.truncated": True,
                "total_chars": len(text),
                "shown_chars": shown,
                "head": text[:shown],
            }
        )
        if len(rendered) <= max_chars or shown == 0:
            return rendered, True
        # Escaping (quotes, backslashes) grew the head: shrink it in proportion.
        shown = max(shown - (len(rendered) - max_chars) - 16, shown // 2, 0)


def content_hash(text: str) -> str:
    """The content address of a payload: sha256 hex of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def qualname(cls: type) -> str:
    """``module.QualName`` of a class (``QualName`` for builtins)."""
    return _qualname(cls)
