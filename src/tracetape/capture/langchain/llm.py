"""Model-call attributes: provider, model version signals, params, messages, usage.

Each extractor is a small function; the handler runs each through the error boundary
so that one failing loses only its own attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from tracetape.spans import semconv
from tracetape.spans.encode import dumps, to_jsonable
from tracetape.spans.recorder import Recorder

_PARAM_ATTRS = {
    "temperature": semconv.REQUEST_TEMPERATURE,
    "top_p": semconv.REQUEST_TOP_P,
    "max_tokens": semconv.REQUEST_MAX_TOKENS,
    "max_completion_tokens": semconv.REQUEST_MAX_TOKENS,
    "max_output_tokens": semconv.REQUEST_MAX_TOKENS,
    "seed": semconv.REQUEST_SEED,
    "n": semconv.REQUEST_CHOICE_COUNT,
}
_PROVIDER_BY_CLASS = {
    "ChatOpenAI": "openai",
    "AzureChatOpenAI": "azure.ai.openai",
    "ChatAnthropic": "anthropic",
    "ChatBedrock": "aws.bedrock",
    "ChatBedrockConverse": "aws.bedrock",
    "ChatVertexAI": "gcp.vertex_ai",
    "ChatGoogleGenerativeAI": "gcp.gemini",
    "ChatMistralAI": "mistral_ai",
    "ChatGroq": "groq",
    "ChatOllama": "ollama",
    "ChatCohere": "cohere",
}


def _model_class(serialized: Mapping[str, Any] | None, params: Mapping[str, Any]) -> str | None:
    if serialized and isinstance(serialized.get("id"), list) and serialized["id"]:
        return ".".join(str(p) for p in serialized["id"])
    kind = params.get("_type")
    return str(kind) if kind else None


def request_attributes(
    serialized: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    metadata: Mapping[str, Any],
    recorder: Recorder,
) -> dict[str, Any]:
    """Provider, requested model, class and invocation params of a model call."""
    attrs: dict[str, Any] = {}
    model_class = _model_class(serialized, params)
    if model_class:
        attrs[semconv.MODEL_CLASS] = model_class
    short_class = model_class.rsplit(".", 1)[-1] if model_class else None
    provider = metadata.get("ls_provider") or (_PROVIDER_BY_CLASS.get(short_class or ""))
    if provider:
        attrs[semconv.PROVIDER_NAME] = str(provider)
    model = (
        params.get("model")
        or params.get("model_name")
        or params.get("model_id")
        or metadata.get("ls_model_name")
    )
    if model:
        attrs[semconv.REQUEST_MODEL] = str(model)
    for key, attr in _PARAM_ATTRS.items():
        value = params.get(key, metadata.get(f"ls_{key}"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[attr] = value
    stop = params.get("stop") or metadata.get("ls_stop")
    if isinstance(stop, list | tuple) and stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    clean = {k: v for k, v in params.items() if k not in ("tools", "functions")}
    recorder.display(semconv.INVOCATION_PARAMS, to_jsonable(clean), attrs)
    tools = params.get("tools") or params.get("functions")
    if tools:
        recorder.display(semconv.TOOL_DEFINITIONS, to_jsonable(tools), attrs)
    response_format = params.get("response_format") or params.get("ls_structured_output_format")
    if response_format:
        recorder.display(semconv.RESPONSE_FORMAT, to_jsonable(response_format), attrs)
        attrs[semconv.OUTPUT_TYPE] = "json"
    return attrs


def prompt_messages(prompts: Sequence[str]) -> list[dict[str, Any]]:
    """Completion-model prompts as semconv user messages."""
    return [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts]


def first_batch(messages: Sequence[Sequence[BaseMessage]]) -> Sequence[BaseMessage]:
    """The message list of the first (usually only) prompt of a batch."""
    return messages[0] if messages else []


def _usage(result: LLMResult, message: BaseMessage | None) -> tuple[int | None, int | None]:
    usage = getattr(message, "usage_metadata", None) if message is not None else None
    if usage:
        return usage.get("input_tokens"), usage.get("output_tokens")
    output = result.llm_output or {}
    token_usage = output.get("token_usage") or output.get("usage") or {}
    if isinstance(token_usage, Mapping):
        prompt = token_usage.get("prompt_tokens", token_usage.get("input_tokens"))
        completion = token_usage.get("completion_tokens", token_usage.get("output_tokens"))
        return prompt, completion
    return None, None


def response_message(result: LLMResult) -> tuple[BaseMessage | None, str | None]:
    """The first generation's message (chat models) or text, and its finish reason."""
    if not result.generations or not result.generations[0]:
        return None, None
    generation = result.generations[0][0]
    info = generation.generation_info or {}
    message = generation.message if isinstance(generation, ChatGeneration) else None
    finish = info.get("finish_reason")
    if message is not None and not finish:
        meta = getattr(message, "response_metadata", {}) or {}
        finish = meta.get("finish_reason") or meta.get("stop_reason")
    return message, str(finish) if finish else None


def response_attributes(result: LLMResult, message: BaseMessage | None) -> dict[str, Any]:
    """Responded model, response id, system fingerprint, finish reasons, token usage."""
    attrs: dict[str, Any] = {}
    output = result.llm_output or {}
    meta: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
    model = meta.get("model_name") or meta.get("model") or output.get("model_name")
    if model:
        attrs[semconv.RESPONSE_MODEL] = str(model)
    fingerprint = meta.get("system_fingerprint") or output.get("system_fingerprint")
    if fingerprint:
        attrs[semconv.MODEL_SYSTEM_FINGERPRINT] = str(fingerprint)
    response_id = meta.get("id") or getattr(message, "id", None)
    if response_id:
        attrs[semconv.RESPONSE_ID] = str(response_id)
    reasons: list[str] = []
    for generations in result.generations:
        for generation in generations:
            info = generation.generation_info or {}
            gmeta = getattr(getattr(generation, "message", None), "response_metadata", {}) or {}
            reason = info.get("finish_reason") or gmeta.get("finish_reason")
            if reason:
                reasons.append(str(reason))
    if reasons:
        attrs[semconv.RESPONSE_FINISH_REASONS] = tuple(reasons)
    input_tokens, output_tokens = _usage(result, message)
    if isinstance(input_tokens, int):
        attrs[semconv.USAGE_INPUT_TOKENS] = input_tokens
    if isinstance(output_tokens, int):
        attrs[semconv.USAGE_OUTPUT_TOKENS] = output_tokens
    return attrs


def text_output(result: LLMResult) -> str:
    """Completion-model output as semconv assistant messages (JSON)."""
    texts = [g.text for gens in result.generations for g in gens]
    return dumps([{"role": "assistant", "parts": [{"type": "text", "content": t}]} for t in texts])
