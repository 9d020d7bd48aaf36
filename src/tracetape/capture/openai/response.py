"""What a chat-completions response records: version signals, output, usage, errors.

Responses are read as plain ``chat.completion`` dicts, so a parsed ``ChatCompletion``
and the completion `chunks` assembles from a stream are recorded the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tracetape.capture.openai.messages import semconv_message
from tracetape.spans import semconv
from tracetape.spans.encode import dumps, redacted_dumps
from tracetape.spans.recorder import Recorder


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _choices(completion: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    choices = completion.get("choices")
    if not isinstance(choices, Sequence):
        return []
    return [c for c in choices if isinstance(c, Mapping)]  # pyright: ignore[reportUnknownVariableType]


def usage_attributes(usage: Any) -> dict[str, int]:
    """Token counts by semconv attribute from an OpenAI ``usage`` object."""
    if not isinstance(usage, Mapping):
        return {}
    prompt_details = usage.get("prompt_tokens_details")
    output_details = usage.get("completion_tokens_details")
    found = {
        semconv.USAGE_INPUT_TOKENS: _int(usage.get("prompt_tokens")),
        semconv.USAGE_OUTPUT_TOKENS: _int(usage.get("completion_tokens")),
        semconv.USAGE_CACHE_READ_INPUT_TOKENS: _int(
            prompt_details.get("cached_tokens") if isinstance(prompt_details, Mapping) else None
        ),
        semconv.USAGE_REASONING_OUTPUT_TOKENS: _int(
            output_details.get("reasoning_tokens") if isinstance(output_details, Mapping) else None
        ),
    }
    return {key: value for key, value in found.items() if value is not None}


def response_attributes(completion: Mapping[str, Any]) -> dict[str, Any]:
    """Responded model, response id, system fingerprint, service tier, finish reasons, usage."""
    attrs: dict[str, Any] = {}
    for key, attr in (
        ("model", semconv.RESPONSE_MODEL),
        ("id", semconv.RESPONSE_ID),
        ("system_fingerprint", semconv.MODEL_SYSTEM_FINGERPRINT),
        ("service_tier", semconv.RESPONSE_SERVICE_TIER),
    ):
        value = completion.get(key)
        if isinstance(value, str) and value:
            attrs[attr] = value
    reasons = [str(c["finish_reason"]) for c in _choices(completion) if c.get("finish_reason")]
    if reasons:
        attrs[semconv.RESPONSE_FINISH_REASONS] = tuple(reasons)
    attrs.update(usage_attributes(completion.get("usage")))
    return attrs


def output_attributes(
    completion: Mapping[str, Any], recorder: Recorder, blobs: dict[str, str]
) -> dict[str, Any]:
    """The returned message of every choice (with requested tool calls), and the whole
    response kept for replay."""
    if not recorder.settings.capture_content:
        return {semconv.REPLAYABLE: False}
    attrs: dict[str, Any] = {}
    messages = [
        semconv_message(c.get("message") or {"role": "assistant"}, True, c.get("finish_reason"))
        for c in _choices(completion)
    ]
    recorder.display_json(semconv.OUTPUT_MESSAGES, dumps(messages), attrs)
    digest = recorder.content.put(redacted_dumps(completion), blobs)
    attrs[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
    if digest is None:
        attrs[semconv.REPLAYABLE] = False
    return attrs
