"""What a ``chat.completions.create`` request records: provider, model, params, messages.

Each extractor is a small function run behind the error boundary by `call`, so one
that fails loses only its own attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from tracetape.capture.openai import _compat
from tracetape.capture.openai.messages import as_dict, join_newest, semconv_message
from tracetape.spans import semconv
from tracetape.spans.encode import dumps, qualname, redacted_dumps, to_jsonable
from tracetape.spans.recorder import Recorder

REPLAY_FORMAT: Final = "openai.chat.completions"
"""Payload shape of this integration: request messages and a ``chat.completion`` body."""

_PARAM_ATTRS: Final = {
    "temperature": semconv.REQUEST_TEMPERATURE,
    "top_p": semconv.REQUEST_TOP_P,
    "max_tokens": semconv.REQUEST_MAX_TOKENS,
    "max_completion_tokens": semconv.REQUEST_MAX_TOKENS,
    "seed": semconv.REQUEST_SEED,
    "n": semconv.REQUEST_CHOICE_COUNT,
    "frequency_penalty": semconv.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.REQUEST_PRESENCE_PENALTY,
}
# Not part of what the model is asked: transport options, and the parts recorded apart.
_NOT_PARAMS: Final = frozenset(
    {"messages", "tools", "functions", "extra_headers", "extra_query", "timeout"}
)


def given(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments actually given (the SDK's ``omit`` sentinels dropped)."""
    return {k: v for k, v in kwargs.items() if not _compat.is_omitted(v)}


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def wire_response_format(value: Any) -> Any:
    """A ``response_format`` as sent on the wire: a class (``parse``) becomes the strict
    JSON schema the SDK sends for it; without ``openai``, a pydantic class becomes its
    plain JSON schema; anything else is already what is sent."""
    if not isinstance(value, type):
        return value
    strict = _compat.strict_response_format(value)
    if strict is not None:
        return strict
    schema_of = getattr(value, "model_json_schema", None)
    if callable(schema_of):
        return {
            "type": "json_schema",
            "json_schema": {"name": value.__name__, "schema": schema_of()},
        }
    return value


def client_attributes(resource: object) -> dict[str, Any]:
    """Provider, client class and server address of the resource's client."""
    client = _compat.client_of(resource)
    attrs: dict[str, Any] = {
        semconv.PROVIDER_NAME: "azure.ai.openai" if _compat.is_azure(client) else "openai"
    }
    if client is not None:
        attrs[semconv.MODEL_CLASS] = qualname(type(client))
    host, port = _compat.base_url(client)
    if host:
        attrs[semconv.SERVER_ADDRESS] = host
    if port is not None:
        attrs[semconv.SERVER_PORT] = port
    return attrs


def param_attributes(kwargs: Mapping[str, Any], recorder: Recorder) -> dict[str, Any]:
    """Requested model, sampling params, invocation params, tools and response format."""
    attrs: dict[str, Any] = {}
    model = kwargs.get("model")
    if model:
        attrs[semconv.REQUEST_MODEL] = str(model)
    for key, attr in _PARAM_ATTRS.items():
        value = _number(kwargs.get(key))
        if value is not None:
            attrs[attr] = value
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, Sequence) and stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)  # pyright: ignore[reportUnknownVariableType]
    if kwargs.get("stream"):
        attrs[semconv.STREAMED] = True
    clean = {k: v for k, v in kwargs.items() if k not in _NOT_PARAMS}
    if "response_format" in clean:
        clean["response_format"] = wire_response_format(clean["response_format"])
    recorder.display(semconv.INVOCATION_PARAMS, to_jsonable(clean), attrs)
    tools = kwargs.get("tools") or kwargs.get("functions")
    if isinstance(tools, Sequence) and tools:
        recorder.display(semconv.TOOL_DEFINITIONS, to_jsonable(tools), attrs)
    response_format = wire_response_format(kwargs.get("response_format"))
    if response_format:
        recorder.display(semconv.RESPONSE_FORMAT, to_jsonable(response_format), attrs)
        kind = response_format.get("type") if isinstance(response_format, Mapping) else None
        attrs[semconv.OUTPUT_TYPE] = "text" if kind == "text" else "json"
    return attrs


def message_attributes(
    kwargs: Mapping[str, Any], recorder: Recorder, blobs: dict[str, str]
) -> dict[str, Any]:
    """Input messages for display, and the whole request kept for replay.

    Each message is stored once per distinct content (its wire form, redacted); the
    request without its messages (model, params, tools) is one more payload. A payload
    over the size cap marks the span not replayable.
    """
    capture = recorder.settings.capture_content
    attrs: dict[str, Any] = {semconv.REPLAY_FORMAT: REPLAY_FORMAT}
    messages: Sequence[Any] = kwargs.get("messages") or ()
    if capture:
        displays = [dumps(semconv_message(m, capture)) for m in messages]
        attrs[semconv.INPUT_MESSAGES] = join_newest(displays, recorder.settings.max_display_chars)
    else:
        attrs[semconv.REPLAYABLE] = False
        return attrs
    hashes: list[str] = []
    whole = True
    for message in messages:
        digest = recorder.content.put(redacted_dumps(as_dict(message)), blobs)
        if digest is None:
            whole = False
        else:
            hashes.append(digest)
    attrs[semconv.REPLAY_INPUT] = dumps(hashes)
    request = {k: v for k, v in kwargs.items() if k != "messages" and k not in _NOT_PARAMS}
    if "response_format" in request:
        request["response_format"] = wire_response_format(request["response_format"])
    for key in ("tools", "functions"):
        if kwargs.get(key):
            request[key] = kwargs[key]
    digest = recorder.content.put(redacted_dumps(to_jsonable(request)), blobs)
    if digest is None:
        whole = False
    else:
        attrs[semconv.REPLAY_REQUEST] = digest
    if not whole:
        attrs[semconv.REPLAYABLE] = False
    return attrs
