"""A trace as diff sees it: its root and its steps (model, tool, retriever and prompt
calls, graph nodes, agents, workflow steps) in the order they started.

Chains, graphs and embeddings are plumbing around the steps: not steps themselves (an
embedding model shows in its retriever's config). A step's *signature* is what
alignment matches on: its kind and, where the name says what the step does, the name
(a tool's, a node's, a prompt's). Model calls and retrievals match by kind alone, so a
swapped model or another retriever class still lines up with what it replaced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tracetape.spans import kinds, semconv

STEP_KINDS = frozenset(
    {kinds.LLM, kinds.TOOL, kinds.RETRIEVER, kinds.PROMPT, kinds.NODE, kinds.AGENT, kinds.WORKFLOW}
)
_NAMED_KINDS = frozenset({kinds.TOOL, kinds.NODE, kinds.PROMPT, kinds.AGENT, kinds.WORKFLOW})
CONTAINER_KINDS = frozenset({kinds.NODE, kinds.AGENT, kinds.WORKFLOW})
"""Steps that run other steps inside them."""

SPAN_COLUMNS = (
    "span_id, parent_span_id, name, kind, start_time, duration_ms, status, error_type, "
    "status_message, model, tool_name, input::VARCHAR AS input, output::VARCHAR AS output, "
    "attributes::VARCHAR AS attributes, input_tokens, output_tokens, environment_id"
)
"""The ``spans`` columns `trace_steps` reads (rows ordered by start_time, span_id)."""

# Ids a framework or provider generates afresh on every call: left out of compared
# outputs, so two identical runs show identical outputs.
_GENERATED_ID = re.compile(
    r"^(?:run-|lc_run--|call_|chatcmpl-|msg_|toolu_|resp_)|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)
_ID_KEYS = frozenset({"id", "tool_call_id", "run_id"})


@dataclass(frozen=True)
class Step:
    """One step of a trace, with what the comparison reads from it."""

    span_id: str
    kind: str
    name: str
    signature: tuple[str, str]
    attributes: Mapping[str, Any] = field(repr=False)
    output: Any = field(repr=False)
    error: str | None = None
    duration_ms: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    container: str | None = None
    """The span id of the step this one runs inside (a graph node around a model call)."""


@dataclass(frozen=True)
class TraceSteps:
    """One trace: its id, name, root input, output and status, steps and environment."""

    trace_id: str
    name: str
    input: Any
    output: Any
    error: str | None
    duration_ms: float | None
    environment_id: str | None
    steps: tuple[Step, ...]
    root_span_id: str | None = None


def _cell(raw: Any) -> Any:
    # Arrow rows give None for missing values; floats may still be NaN.
    if isinstance(raw, float) and raw != raw:
        return None
    return raw


def _json(raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def _error(row: Mapping[str, Any]) -> str | None:
    if row.get("status") != "error":
        return None
    return str(row.get("error_type") or row.get("status_message") or "error")


def _display_name(row: Mapping[str, Any], attributes: Mapping[str, Any]) -> str:
    kind = row["kind"]
    if kind == kinds.TOOL:
        return str(row.get("tool_name") or row["name"])
    if kind == kinds.NODE:
        return str(attributes.get(semconv.LANGGRAPH_NODE) or row["name"])
    if kind == kinds.LLM:
        return str(row.get("model") or row["name"])
    return str(row["name"])


def trace_steps(trace_id: str, name: str, rows: list[dict[str, Any]]) -> TraceSteps:
    """The steps of one trace from its ``spans`` rows (`SPAN_COLUMNS`), in start order."""
    rows = [{k: _cell(v) for k, v in row.items()} for row in rows]
    ids = {row["span_id"] for row in rows}
    roots = [row for row in rows if row.get("parent_span_id") not in ids]
    root = roots[0] if roots else rows[0]
    parents = {row["span_id"]: row.get("parent_span_id") for row in rows}
    step_ids = {row["span_id"] for row in rows if row["kind"] in STEP_KINDS}
    steps: list[Step] = []
    for row in rows:
        if row["kind"] not in STEP_KINDS:
            continue
        container = parents.get(row["span_id"])
        while container is not None and container not in step_ids:
            container = parents.get(container)
        attributes = _json(row.get("attributes")) or {}
        shown_name = _display_name(row, attributes)
        key = shown_name if row["kind"] in _NAMED_KINDS else ""
        steps.append(
            Step(
                span_id=row["span_id"], kind=row["kind"], name=shown_name,
                signature=(row["kind"], key), attributes=attributes,
                output=_json(row.get("output")), error=_error(row),
                duration_ms=row.get("duration_ms"), input_tokens=row.get("input_tokens"),
                output_tokens=row.get("output_tokens"), container=container,
            )
        )  # fmt: skip
    return TraceSteps(
        trace_id=trace_id,
        name=name or str(root["name"]),
        input=_json(root.get("input")),
        output=_json(root.get("output")),
        error=_error(root),
        duration_ms=root.get("duration_ms"),
        environment_id=root.get("environment_id"),
        steps=tuple(steps),
        root_span_id=root["span_id"],
    )


def stable(value: Any) -> Any:
    """``value`` without the ids generated afresh on every call (message, run and tool
    call ids); a recorded id such as a document's stays."""
    if isinstance(value, dict):
        return {
            k: stable(v)
            for k, v in value.items()
            if not (k in _ID_KEYS and isinstance(v, str) and _GENERATED_ID.search(v))
        }
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def _messages_text(messages: list[Any]) -> str | None:
    """Chat messages in the semconv shape (role + parts) as ``role: text`` lines."""
    lines: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or "parts" not in message:
            return None
        for part in message["parts"] or []:
            if not isinstance(part, dict):
                return None
            if part.get("type") == "text":
                lines.append(f"{message.get('role')}: {part.get('content')}")
            else:
                rest = {k: v for k, v in stable(part).items() if k != "type"}
                lines.append(f"{message.get('role')} {part.get('type')}: {_dump(rest)}")
    return "\n".join(lines)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def output_text(output: Any) -> str:
    """An output as comparable text: a string as it is, chat messages as ``role: text``
    lines, anything else as indented JSON without generated ids."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, dict) and "parts" in output:
        output = [output]
    if isinstance(output, dict) and len(output) == 1:  # a graph node's {"messages": [...]}
        (inner,) = output.values()
        if isinstance(inner, list) and inner and _messages_text(inner) is not None:
            output = inner
    if isinstance(output, list) and output:
        text = _messages_text(output)
        if text is not None:
            return text
    return json.dumps(stable(output), sort_keys=True, ensure_ascii=False, indent=1, default=str)
