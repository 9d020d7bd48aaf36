"""Tool-call attributes: name, description, arguments, result, call id, error."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage, BaseMessageChunk

from tracetape.capture.langchain._compat import command_fields
from tracetape.capture.langchain.io import replay_payload
from tracetape.capture.langchain.messages import MessageCodec
from tracetape.spans import semconv, typed
from tracetape.spans.encode import dumps, redacted_dumps, to_jsonable
from tracetape.spans.recorder import Recorder


def start_attributes(
    serialized: Mapping[str, Any] | None,
    input_str: str,
    inputs: Mapping[str, Any] | None,
    tool_call_id: str | None,
    name: str,
    recorder: Recorder,
    blobs: dict[str, str],
) -> dict[str, Any]:
    """Attributes known when a tool starts; the arguments are also kept whole for replay."""
    attrs: dict[str, Any] = {semconv.TOOL_NAME: name, semconv.TOOL_TYPE: "function"}
    description = (serialized or {}).get("description")
    if description:
        attrs[semconv.TOOL_DESCRIPTION] = str(description)[:4000]
    if tool_call_id:
        attrs[semconv.TOOL_CALL_ID] = tool_call_id
    arguments = to_jsonable(inputs if inputs is not None else input_str)
    if not recorder.settings.capture_content:
        return attrs
    text = dumps(arguments)
    recorder.display_json(semconv.TOOL_CALL_ARGUMENTS, text, attrs)
    digest = recorder.content.put(text, blobs)
    if digest is None:
        attrs[semconv.REPLAYABLE] = False
    else:
        attrs[semconv.REPLAY_INPUT] = dumps([digest])
    return attrs


def _serialise_output(output: Any, codec: MessageCodec) -> tuple[Any, str, str | None]:
    """(display value, replay payload JSON, its hash if known) of a tool's output (a
    ToolMessage or any value). A ToolMessage's payload comes from the codec, which the
    tools node's output and every later model call then find cached."""
    message_type = getattr(output, "type", None)
    if message_type == "tool" and hasattr(output, "content"):
        # (A chunk is kept as it came; the codec would store the merged message.)
        plain = isinstance(output, BaseMessage) and not isinstance(output, BaseMessageChunk)
        if plain and codec.capture_content:
            encoded = codec.encode(output)
            return to_jsonable(output.content), encoded.payload, encoded.digest
        from langchain_core.load import dumpd

        return to_jsonable(output.content), redacted_dumps(dumpd(output)), None
    shown = to_jsonable(output)
    if codec.capture_content and (command_fields(output) is not None or typed.found_in(output)):
        # A LangGraph Command (the state update it carries), or a value JSON would give
        # back as another type (a datetime, a pydantic model): kept as it was, for replay.
        return shown, replay_payload(output, codec), None
    return shown, dumps(shown), None


def end_attributes(
    output: Any, recorder: Recorder, blobs: dict[str, str], codec: MessageCodec
) -> dict[str, Any]:
    """The tool's result, displayed and kept whole for replay."""
    attrs: dict[str, Any] = {}
    status = getattr(output, "status", None)
    if status == "error":
        attrs[semconv.ERROR_TYPE] = "ToolMessage.status=error"
    if not recorder.settings.capture_content:
        return attrs
    shown, payload, known = _serialise_output(output, codec)
    recorder.display(semconv.TOOL_CALL_RESULT, shown, attrs)
    digest = recorder.content.put(payload, blobs, known)
    if digest is None:
        attrs[semconv.REPLAYABLE] = False
    else:
        attrs[semconv.REPLAY_OUTPUT] = dumps([digest])
    return attrs


def current_tool_schema() -> dict[str, Any]:
    """Argument schema of the tool whose run() is executing (set by `_inject`)."""
    from tracetape.capture.langchain._inject import current_tool

    tool = current_tool.get()
    if tool is None:
        return {}
    key = id(tool)
    with _schema_lock:
        hit = _schema_cache.get(key)
    if hit is not None and hit[0] is tool:
        return {semconv.TOOL_ARGS_SCHEMA: hit[1]} if hit[1] else {}
    text = _schema_json(tool)
    with _schema_lock:
        _schema_cache[key] = (tool, text)
        if len(_schema_cache) > _SCHEMA_CACHE_SIZE:
            _schema_cache.popitem(last=False)
    return {semconv.TOOL_ARGS_SCHEMA: text} if text else {}


# A tool's schema is built once per tool object (pydantic's model_json_schema is slow).
_schema_cache: OrderedDict[int, tuple[object, str | None]] = OrderedDict()
_schema_lock = threading.Lock()
_SCHEMA_CACHE_SIZE = 1024


def _schema_json(tool: Any) -> str | None:
    schema_of = getattr(tool, "tool_call_schema", None)
    schema: Any = None
    if schema_of is not None and hasattr(schema_of, "model_json_schema"):
        schema = schema_of.model_json_schema()
    elif isinstance(getattr(tool, "args", None), dict):
        schema = tool.args
    if schema is None:
        return None
    return dumps(to_jsonable(schema))
