"""OpenTelemetry spans -> Arrow tables of span, blob and environment rows."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from tracetape.spans import semconv
from tracetape.spans.encode import dumps
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


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _time(ns: int | None) -> dt.datetime | None:
    if ns is None:
        return None
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


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


def attributes_json(attrs: dict[str, Any]) -> str:
    """All attributes as one JSON object; JSON-valued attributes nest as JSON, not strings."""
    parts: list[str] = []
    for key, value in attrs.items():
        if key in _JSON_ATTRIBUTES and isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                rendered = dumps(value)
            else:
                rendered = value
        elif isinstance(value, tuple):
            rendered = dumps(list(value))
        else:
            rendered = dumps(value)
        parts.append(dumps(key) + ":" + rendered)
    return "{" + ",".join(parts) + "}"


def _first(attrs: dict[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        if key in attrs:
            return _json_text(attrs[key])
    return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def span_row(span: ReadableSpan, blobs: dict[str, str]) -> dict[str, Any]:
    """One row of `SPAN_SCHEMA`; payload blobs the span carries are moved into ``blobs``."""
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
    return {
        "trace_id": _hex(ctx.trace_id, 32) if ctx else None,
        "span_id": _hex(ctx.span_id, 16) if ctx else None,
        "parent_span_id": _hex(parent.span_id, 16) if parent else None,
        "name": span.name,
        "kind": attrs.get(semconv.KIND, "chain"),
        "operation": attrs.get(semconv.OPERATION_NAME),
        "start_time": _time(start),
        "end_time": _time(end),
        "duration_ms": (end - start) / 1e6 if start is not None and end is not None else None,
        "status": _STATUS.get(status.status_code, "unset"),
        "status_message": status.description,
        "error_type": attrs.get(semconv.ERROR_TYPE),
        "model": str(model) if model else None,
        "provider": attrs.get(semconv.PROVIDER_NAME),
        "tool_name": attrs.get(semconv.TOOL_NAME),
        "input": _first(attrs, _INPUT_KEYS),
        "output": _first(attrs, _OUTPUT_KEYS),
        "attributes": attributes_json(attrs),
        "input_tokens": _int(attrs.get(semconv.USAGE_INPUT_TOKENS)),
        "output_tokens": _int(attrs.get(semconv.USAGE_OUTPUT_TOKENS)),
        "run_id": attrs.get(semconv.RUN_ID),
        "environment_id": resource.get(semconv.ENVIRONMENT_ID),
        "replay_of": attrs.get(semconv.REPLAY_OF),
        "tags": list(tags) if isinstance(tags, tuple | list) else None,
        "replayable": bool(replayable) if replayable is not None else None,
        "pid": _int(resource.get("process.pid")) or os.getpid(),
    }


def spans_table(spans: Sequence[ReadableSpan]) -> tuple[pa.Table, pa.Table]:
    """Arrow tables of span rows and of the distinct blobs they carried."""
    blobs: dict[str, str] = {}
    rows = [span_row(span, blobs) for span in spans]
    span_table = pa.Table.from_pylist(rows, schema=SPAN_SCHEMA)
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
