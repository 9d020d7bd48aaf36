"""OpenTelemetry spans -> Arrow tables of span, blob and environment rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from tracetape.spans import kinds, semconv
from tracetape.spans.encode import dumps, is_json
from tracetape.store.schema.tables import BLOB_SCHEMA, ENVIRONMENT_SCHEMA, SPAN_SCHEMA

_INPUT_KEYS = (
    semconv.INPUT_MESSAGES,
    semconv.TOOL_CALL_ARGUMENTS,
    semconv.RETRIEVAL_QUERY,
    semconv.INPUT,
)
_OUTPUT_KEYS = (
    semconv.OUTPUT_MESSAGES,
    semconv.TOOL_CALL_RESULT,
    semconv.RETRIEVAL_DOCUMENTS,
    semconv.OUTPUT,
)
_STATUS = {StatusCode.OK: "ok", StatusCode.ERROR: "error", StatusCode.UNSET: "unset"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _json_text(value: Any) -> str | None:
    """Attribute value -> JSON text (strings that already hold JSON are kept as is)."""
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "[", '"'):
            return value
        return dumps(value)
    if isinstance(value, tuple):
        return dumps(list(value))
    return dumps(value)


_JSON_ATTRIBUTES = frozenset(
    {
        semconv.INPUT_MESSAGES,
        semconv.OUTPUT_MESSAGES,
        semconv.TOOL_DEFINITIONS,
        semconv.TOOL_CALL_ARGUMENTS,
        semconv.TOOL_CALL_RESULT,
        semconv.RETRIEVAL_DOCUMENTS,
        semconv.RETRIEVAL_QUERY,
        semconv.INPUT,
        semconv.OUTPUT,
        semconv.METADATA,
        semconv.INVOCATION_PARAMS,
        semconv.RESPONSE_FORMAT,
        semconv.TOOL_ARGS_SCHEMA,
        semconv.PROMPT_TEMPLATE,
        semconv.PROMPT_VALUES,
        semconv.RETRIEVER_SEARCH_KWARGS,
        semconv.RETRIEVER_CONFIG,
        semconv.INTERRUPT_VALUE,
        semconv.REPLAY_INPUT,
        semconv.REPLAY_OUTPUT,
    }
)

# One encoder for every span: OpenTelemetry attribute values are already JSON types
# (str, bool, int, float and tuples of them), so no per-value conversion is needed.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> str:
    """``text`` with lone surrogates replaced, so that it encodes as UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def attributes_json(attrs: dict[str, Any]) -> str:
    """All attributes as one JSON object; JSON-valued attributes nest as JSON, not strings."""
    return _attribute_texts(attrs, replay=False)[0]


def _attribute_texts(attrs: dict[str, Any], *, replay: bool) -> tuple[str, str]:
    """`attributes_json`, and (``replay``) the same without `_SHOWN_ONLY` keys ("{}"
    otherwise): each JSON-valued attribute is checked once for both."""
    plain: dict[str, Any] = {}
    nested: list[tuple[str, str]] = []
    for key, value in attrs.items():
        if key in _JSON_ATTRIBUTES and isinstance(value, str) and is_json(value):
            nested.append((key, _ENCODER.encode(key) + ":" + value))
        else:
            plain[key] = value
    whole = _object(plain, [part for _, part in nested])
    if not replay:
        return whole, "{}"
    kept = {key: value for key, value in plain.items() if key not in _SHOWN_ONLY}
    return whole, _object(kept, [part for key, part in nested if key not in _SHOWN_ONLY])


def _object(plain: dict[str, Any], nested: list[str]) -> str:
    text = _ENCODER.encode(plain)
    if nested:
        text = text[:-1] + ("," if plain else "") + ",".join(nested) + "}"
    return _utf8(text)


_SHOWN_ONLY = frozenset(
    {
        semconv.INPUT_MESSAGES,
        semconv.OUTPUT_MESSAGES,
        semconv.INPUT,
        semconv.OUTPUT,
        semconv.PROMPT_VALUES,
        semconv.PROMPT_TEMPLATE,
        semconv.RETRIEVAL_DOCUMENTS,
        semconv.TOOL_CALL_RESULT,
    }
)
"""Displayed inputs and outputs: most of a span's attribute bytes, never read by replay
(it reads the whole payloads, by hash)."""
_REPLAY_READS = frozenset({kinds.LLM, kinds.TOOL, kinds.RETRIEVER, kinds.EMBEDDING, kinds.NODE})


def _replay_read(kind: str, attrs: dict[str, Any]) -> bool:
    """Whether replay reads the span's attributes (the ``replay`` column holds them):
    calls, LangGraph nodes, a root run that kept its input or output."""
    return kind in _REPLAY_READS or semconv.REPLAY_INPUT in attrs or semconv.REPLAY_OUTPUT in attrs


def _first(attrs: dict[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        if key in attrs:
            return _json_text(attrs[key])
    return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _micros(ns: int | None) -> int | None:
    return None if ns is None else ns // 1000


def span_values(
    span: ReadableSpan, blobs: dict[str, str], environment_id: str | None = None
) -> tuple[Any, ...]:
    """One row of `SPAN_SCHEMA`, in its column order (times as UTC microseconds).

    Payload blobs the span carries are moved into ``blobs``. ``environment_id`` is used
    when the span's resource does not name one (a user's own tracer provider).
    """
    ctx = span.context
    attrs: dict[str, Any] = dict(span.attributes or {})
    carried = attrs.pop(semconv.BLOBS, None)
    if isinstance(carried, str):
        try:
            blobs.update(json.loads(carried))
        except ValueError:
            attrs[semconv.BLOBS + ".unreadable"] = carried[:200]
    resource = span.resource.attributes if span.resource else {}
    parent = span.parent
    start, end = span.start_time, span.end_time
    status = span.status
    tags = attrs.get(semconv.TAGS)
    model = attrs.get(semconv.RESPONSE_MODEL) or attrs.get(semconv.REQUEST_MODEL)
    replayable = attrs.get(semconv.REPLAYABLE)
    get = attrs.get
    kind = get(semconv.KIND, "chain")
    attributes, replay = _attribute_texts(attrs, replay=_replay_read(str(kind), attrs))
    return (
        format(ctx.trace_id, "032x") if ctx else None,
        format(ctx.span_id, "016x") if ctx else None,
        format(parent.span_id, "016x") if parent else None,
        span.name,
        kind,
        get(semconv.OPERATION_NAME),
        _micros(start),
        _micros(end),
        (end - start) / 1e6 if start is not None and end is not None else None,
        _STATUS.get(status.status_code, "unset"),
        status.description,
        get(semconv.ERROR_TYPE),
        str(model) if model else None,
        get(semconv.PROVIDER_NAME),
        get(semconv.TOOL_NAME),
        _first(attrs, _INPUT_KEYS),
        _first(attrs, _OUTPUT_KEYS),
        attributes,
        _int(get(semconv.USAGE_INPUT_TOKENS)),
        _int(get(semconv.USAGE_OUTPUT_TOKENS)),
        get(semconv.RUN_ID),
        resource.get(semconv.ENVIRONMENT_ID) or environment_id,
        get(semconv.REPLAY_OF),
        list(tags) if isinstance(tags, tuple | list) else None,
        bool(replayable) if replayable is not None else None,
        _int(resource.get("process.pid")) or os.getpid(),
        replay,
    )


def span_row(span: ReadableSpan, blobs: dict[str, str]) -> dict[str, Any]:
    """One row of `SPAN_SCHEMA` as a dict (times as datetimes); see `span_values`."""
    row = dict(zip(SPAN_SCHEMA.names, span_values(span, blobs), strict=True))
    for key in ("start_time", "end_time"):
        if row[key] is not None:
            row[key] = _EPOCH + dt.timedelta(microseconds=row[key])
    return row


def spans_table(
    spans: Sequence[ReadableSpan], environment_id: str | None = None
) -> tuple[pa.Table, pa.Table]:
    """Arrow tables of span rows and of the distinct blobs they carried.

    Built column by column from plain tuples: the exporter's hot path.
    """
    blobs: dict[str, str] = {}
    rows = [span_values(span, blobs, environment_id) for span in spans]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in SPAN_SCHEMA]
    arrays = [
        pa.array(column, type=field.type)
        for column, field in zip(columns, SPAN_SCHEMA, strict=True)
    ]
    span_table = pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA)
    blob_table = pa.Table.from_pydict(
        {
            "hash": list(blobs),
            "content": list(blobs.values()),
            "size": [len(text) for text in blobs.values()],
        },
        schema=BLOB_SCHEMA,
    )
    return span_table, blob_table


def environment_table(snapshot: dict[str, Any]) -> pa.Table:
    """One-row Arrow table of an environment snapshot."""
    python = snapshot.get("python", {})
    plat = snapshot.get("platform", {})
    git = snapshot.get("git", {})
    container = snapshot.get("container", {})
    row = {
        "environment_id": snapshot["environment_id"],
        "taken_at": dt.datetime.now(dt.UTC),
        "python": python.get("version"),
        "platform": f"{plat.get('system')}-{plat.get('release')}-{plat.get('machine')}",
        "git_commit": git.get("commit"),
        "git_dirty_hash": git.get("dirty_hash"),
        "container_image": container.get("image"),
        "snapshot": dumps(snapshot),
    }
    return pa.Table.from_pylist([row], schema=ENVIRONMENT_SCHEMA)
