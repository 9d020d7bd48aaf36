"""Model-call attributes: provider, model version signals, params, messages, usage, errors.

Each extractor is a small function; the handler runs each through the error boundary
so that one failing loses only its own attributes.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from tracetape._safety import attempt
from tracetape.spans import semconv
from tracetape.spans.encode import dumps, limit, to_jsonable
from tracetape.spans.recorder import Recorder
from tracetape.spans.redact import REDACTED, is_secret_key, redact_text

_PARAM_ATTRS = {
    "temperature": semconv.REQUEST_TEMPERATURE,
    "top_p": semconv.REQUEST_TOP_P,
    "top_k": semconv.REQUEST_TOP_K,
    "max_tokens": semconv.REQUEST_MAX_TOKENS,
    "max_completion_tokens": semconv.REQUEST_MAX_TOKENS,
    "max_output_tokens": semconv.REQUEST_MAX_TOKENS,
    "seed": semconv.REQUEST_SEED,
    "n": semconv.REQUEST_CHOICE_COUNT,
    "frequency_penalty": semconv.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.REQUEST_PRESENCE_PENALTY,
}
_PROVIDER_BY_CLASS = {
    "ChatOpenAI": "openai",
    "OpenAI": "openai",
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
# Ids LangChain gives messages itself; they are not the provider's response id.
_LANGCHAIN_ID_PREFIXES = ("lc_", "run-")


def _model_class(serialized: Mapping[str, Any] | None, params: Mapping[str, Any]) -> str | None:
    if serialized and isinstance(serialized.get("id"), list) and serialized["id"]:
        return ".".join(str(p) for p in serialized["id"])
    kind = params.get("_type")
    return str(kind) if kind else None


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _response_format(value: Any) -> Any:
    """A response_format as sent on the wire: ChatOpenAI hands a pydantic class to the
    ``openai`` SDK, which sends its strict JSON schema (see `wire_response_format`)."""
    if not isinstance(value, type):
        return value
    from tracetape.capture.openai.request import wire_response_format  # only for a class

    return wire_response_format(value)


def _tool_definitions(tools: Sequence[Any]) -> list[Any]:
    """Bound tools in OpenAI's function-tool shape (dicts pass through unchanged)."""
    out: list[Any] = []
    for tool in tools:
        if isinstance(tool, Mapping):
            out.append(tool)
            continue
        try:
            from langchain_core.utils.function_calling import convert_to_openai_tool

            out.append(convert_to_openai_tool(tool))
        except (ValueError, TypeError, AttributeError, KeyError):  # still shown, by repr
            out.append(tool)
    return out


_tool_cache: OrderedDict[int, tuple[object, str]] = OrderedDict()
_tool_cache_lock = threading.Lock()
_TOOL_CACHE_SIZE = 256


def _tool_definitions_json(tools: list[Any] | tuple[Any, ...]) -> str:
    """JSON of bound tool definitions, encoded once per bound list (a model bound with
    ``bind_tools`` passes the same list object on every call of an agent loop)."""
    key = id(tools)
    with _tool_cache_lock:
        hit = _tool_cache.get(key)
        if hit is not None and hit[0] is tools:
            return hit[1]
    text = dumps(to_jsonable(_tool_definitions(tools)))
    with _tool_cache_lock:
        _tool_cache[key] = (tools, text)
        if len(_tool_cache) > _TOOL_CACHE_SIZE:
            _tool_cache.popitem(last=False)
    return text


# Every value under these keys (any case) is a credential or may carry one: HTTP
# headers (Authorization, Ocp-Apim-Subscription-Key, X-Auth, ...), query parameters
# (Google's ``key``) and cookies.
_SECRET_CONTAINERS: Final = frozenset(
    {"default_headers", "default_query", "extra_headers", "headers", "cookies"}
)
# The userinfo of a URL (``https://user:password@host``, ``https://token@host``).
_URL_USERINFO: Final = re.compile(r"(?<=://)[^/\s@\"\\?#]+(?=@)")


def _is_secret_node(value: Mapping[Any, Any]) -> bool:
    """LangChain's ``{"lc": 1, "type": "secret", "id": [NAME]}``: the name of an
    environment variable, never its value."""
    ident = value.get("id")
    return (
        value.get("lc") == 1
        and value.get("type") == "secret"
        and len(value) == 3
        and isinstance(ident, list)
        and all(isinstance(part, str) for part in ident)  # pyright: ignore[reportUnknownVariableType]
    )


def _config_text(text: str) -> str:
    if "@" in text and "://" in text:
        text = _URL_USERINFO.sub(REDACTED, text)
    return redact_text(text)


def _config_value(value: Any, secret: bool) -> Any:
    """``value`` with its secrets replaced; ``secret``: under a header/query/cookie key."""
    if isinstance(value, Mapping):
        if _is_secret_node(value):  # pyright: ignore[reportUnknownArgumentType]
            return dict(value)  # pyright: ignore[reportUnknownArgumentType]
        out: dict[str, Any] = {}
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            name = str(key)  # pyright: ignore[reportUnknownArgumentType]
            keep = isinstance(item, Mapping) and _is_secret_node(item)  # pyright: ignore[reportUnknownArgumentType]
            if not keep and is_secret_key(name) and item not in (None, ""):
                out[_config_text(name)] = REDACTED
            else:
                hidden = secret or name.lower() in _SECRET_CONTAINERS
                out[_config_text(name)] = _config_value(item, hidden)
        return out
    if isinstance(value, list | tuple):
        return [_config_value(item, secret) for item in value]  # pyright: ignore[reportUnknownVariableType]
    if value is None:
        return None
    if secret:
        return REDACTED
    if isinstance(value, str):
        return _config_text(value)
    if isinstance(value, bool | int | float):
        return value
    return to_jsonable(value)  # not JSON (dumpd passed it through): redacted by its walk


def _hide_headers(value: Any, secret: bool) -> Any:
    """JSON-safe ``value`` (already redacted by `to_jsonable`) with every header, query
    parameter and cookie value replaced too (``model_kwargs={"extra_headers": ...}``)."""
    if isinstance(value, dict):
        return {
            key: _hide_headers(item, secret or key.lower() in _SECRET_CONTAINERS)
            for key, item in value.items()  # pyright: ignore[reportUnknownVariableType]
        }
    if isinstance(value, list):
        return [_hide_headers(item, secret) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return REDACTED if secret and value is not None else value


def model_config(serialized: Mapping[str, Any]) -> str:
    """A serialised model constructor (LangChain's ``dumpd``) as JSON, redacted by its
    structure: LangChain's secret nodes are kept (they name environment variables); the
    value of every secret-named key and every header, query parameter and cookie is
    replaced whole; URL credentials and credential-shaped text in other strings are
    replaced. Not cached: a secret added to the environment counts at once."""
    return dumps(_config_value(serialized, False))


def _config_attributes(serialized: Mapping[str, Any] | None, recorder: Recorder) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if serialized and serialized.get("type") == "constructor":  # not "not_implemented"
        recorder.display_json(semconv.MODEL_CONFIG, model_config(serialized), attrs)
    return attrs


def request_attributes(
    serialized: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    metadata: Mapping[str, Any],
    recorder: Recorder,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Provider, requested model, class and invocation params of a model call.

    ``options`` is the ``options`` keyword LangChain passes to ``on_chat_model_start``;
    it alone carries the structured-output schema of ``with_structured_output`` calls
    that are made by function calling.
    """
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
        value = _number(params.get(key, metadata.get(f"ls_{key}")))
        if value is not None:
            attrs[attr] = value
    stop = params.get("stop") or metadata.get("ls_stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list | tuple) and stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    clean = {k: v for k, v in params.items() if k not in ("tools", "functions")}
    response_format = _response_format(params.get("response_format"))
    if response_format:
        clean["response_format"] = response_format
    recorder.display(semconv.INVOCATION_PARAMS, _hide_headers(to_jsonable(clean), False), attrs)
    attrs.update(attempt("llm.config", lambda: _config_attributes(serialized, recorder), {}))
    tools = params.get("tools") or params.get("functions")
    if isinstance(tools, list | tuple) and tools:
        recorder.display_json(semconv.TOOL_DEFINITIONS, _tool_definitions_json(tools), attrs)
    structured = (
        params.get("ls_structured_output_format")
        or (options or {}).get("ls_structured_output_format")
        or metadata.get("ls_structured_output_format")
    )
    shown_format = response_format or structured
    if shown_format:
        recorder.display(semconv.RESPONSE_FORMAT, to_jsonable(shown_format), attrs)
        attrs[semconv.OUTPUT_TYPE] = "json"
    return attrs


def prompt_messages(prompts: Sequence[str]) -> list[dict[str, Any]]:
    """Completion-model prompts as semconv user messages."""
    return [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts]


def first_batch(messages: Sequence[Sequence[BaseMessage]]) -> Sequence[BaseMessage]:
    """The message list of the first (usually only) prompt of a batch."""
    return messages[0] if messages else []


def _token_count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(result: LLMResult, message: BaseMessage | None) -> dict[str, int]:
    """Token counts by semconv attribute, from the message or else the provider's output."""
    found: dict[str, Any] = {}
    usage: Any = getattr(message, "usage_metadata", None) if message is not None else None
    if isinstance(usage, Mapping):
        found[semconv.USAGE_INPUT_TOKENS] = usage.get("input_tokens")
        found[semconv.USAGE_OUTPUT_TOKENS] = usage.get("output_tokens")
        found[semconv.USAGE_CACHE_READ_INPUT_TOKENS] = (usage.get("input_token_details") or {}).get(
            "cache_read"
        )
        found[semconv.USAGE_REASONING_OUTPUT_TOKENS] = (
            usage.get("output_token_details") or {}
        ).get("reasoning")
    else:
        output = result.llm_output or {}
        token_usage = output.get("token_usage") or output.get("usage") or {}
        if isinstance(token_usage, Mapping):
            found[semconv.USAGE_INPUT_TOKENS] = token_usage.get(
                "prompt_tokens", token_usage.get("input_tokens")
            )
            found[semconv.USAGE_OUTPUT_TOKENS] = token_usage.get(
                "completion_tokens", token_usage.get("output_tokens")
            )
            found[semconv.USAGE_CACHE_READ_INPUT_TOKENS] = (
                token_usage.get("prompt_tokens_details") or {}
            ).get("cached_tokens")
            found[semconv.USAGE_REASONING_OUTPUT_TOKENS] = (
                token_usage.get("completion_tokens_details") or {}
            ).get("reasoning_tokens")
    counts = {key: _token_count(value) for key, value in found.items()}
    return {key: value for key, value in counts.items() if value is not None}


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


def _first(key: str, *sources: Mapping[str, Any]) -> Any:
    for source in sources:
        value = source.get(key)
        if value:
            return value
    return None


def response_attributes(result: LLMResult, message: BaseMessage | None) -> dict[str, Any]:
    """Responded model, response id, system fingerprint, finish reasons, token usage."""
    attrs: dict[str, Any] = {}
    output = result.llm_output or {}
    meta: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
    first = result.generations[0][0] if result.generations and result.generations[0] else None
    info: Mapping[str, Any] = (first.generation_info if first is not None else None) or {}
    model = _first("model_name", meta, info, output) or _first("model", meta, info, output)
    if model:
        attrs[semconv.RESPONSE_MODEL] = str(model)
    fingerprint = _first("system_fingerprint", meta, info, output)
    if fingerprint:
        attrs[semconv.MODEL_SYSTEM_FINGERPRINT] = str(fingerprint)
    tier = _first("service_tier", meta, info, output)
    if tier:
        attrs[semconv.RESPONSE_SERVICE_TIER] = str(tier)
    response_id = _first("id", meta, output) or getattr(message, "id", None)
    if isinstance(response_id, str) and not response_id.startswith(_LANGCHAIN_ID_PREFIXES):
        attrs[semconv.RESPONSE_ID] = response_id
    reasons: list[str] = []
    for generations in result.generations:
        for generation in generations:
            ginfo = generation.generation_info or {}
            gmeta = getattr(getattr(generation, "message", None), "response_metadata", {}) or {}
            reason = (
                ginfo.get("finish_reason") or gmeta.get("finish_reason") or gmeta.get("stop_reason")
            )
            if reason:
                reasons.append(str(reason))
    if reasons:
        attrs[semconv.RESPONSE_FINISH_REASONS] = tuple(reasons)
    attrs.update(_usage(result, message))
    return attrs


def text_output(result: LLMResult, max_chars: int = 16_384) -> str:
    """Completion-model output as semconv assistant messages (JSON), redacted and cut."""
    texts = [limit(redact_text(g.text), max_chars)[0] for gens in result.generations for g in gens]
    return dumps([{"role": "assistant", "parts": [{"type": "text", "content": t}]} for t in texts])
