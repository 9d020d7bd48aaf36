"""What a LlamaIndex span is (its kind) and what it records: small pure extractors.

The span handler runs each extractor through the error boundary, so one that fails
costs only its own attributes. Messages are written in the GenAI semconv shape that the
LangChain capture writes, so views and diffs read both alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.base import BaseLLM
from llama_index.core.chat_engine.types import BaseChatEngine
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.response_synthesizers.base import BaseSynthesizer
from llama_index.core.tools.types import BaseTool
from workflows import Workflow

from tracetape.capture.llamaindex import _compat
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import limit, qualname, to_jsonable
from tracetape.spans.redact import redact_text

_LLM_CALLS = frozenset(
    {"chat", "achat", "complete", "acomplete"}
    | {"stream_chat", "astream_chat", "stream_complete", "astream_complete"}
)
_EMBED_CALLS = frozenset(
    {"get_query_embedding", "aget_query_embedding", "get_text_embedding"}
    | {"aget_text_embedding", "get_text_embedding_batch", "aget_text_embedding_batch"}
    | {"get_agg_embedding_from_queries", "aget_agg_embedding_from_queries"}
)
# Public entry points recorded as chain spans, by the class that defines them.
_CHAINS: tuple[tuple[type[Any], frozenset[str]], ...] = (
    (BaseQueryEngine, frozenset({"query", "aquery"})),
    (BaseSynthesizer, frozenset({"synthesize", "asynthesize"})),
    (BaseChatEngine, frozenset({"chat", "achat", "stream_chat", "astream_chat"})),
    (BaseNodePostprocessor, frozenset({"postprocess_nodes", "apostprocess_nodes"})),
    (BaseLLM, frozenset({"predict", "apredict", "stream", "astream"})),
    (BaseLLM, frozenset({"structured_predict", "astructured_predict"})),
    (BaseLLM, frozenset({"predict_and_call", "apredict_and_call"})),
)
_PARAM_ATTRS = {
    "temperature": semconv.REQUEST_TEMPERATURE,
    "top_p": semconv.REQUEST_TOP_P,
    "top_k": semconv.REQUEST_TOP_K,
    "max_tokens": semconv.REQUEST_MAX_TOKENS,
    "num_output": semconv.REQUEST_MAX_TOKENS,
    "seed": semconv.REQUEST_SEED,
    "frequency_penalty": semconv.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.REQUEST_PRESENCE_PENALTY,
}
_MESSAGE_CHARS = 4000


def classify(instance: Any, method: str, tags: Mapping[str, Any] | None) -> str | None:
    """The kind a span records as, or None for plumbing whose children move up a level."""
    if instance is None:
        # Instrument tags carry over into whatever the step calls; only the step's own
        # span (a plain function, no instance) is the step.
        return kinds.WORKFLOW if _compat.is_step(tags) else None
    if isinstance(instance, Workflow) and method == "run":
        return kinds.AGENT if is_agent(instance) else kinds.WORKFLOW
    if isinstance(instance, BaseLLM) and method in _LLM_CALLS:
        return kinds.LLM
    if isinstance(instance, BaseEmbedding) and method in _EMBED_CALLS:
        return kinds.EMBEDDING
    if isinstance(instance, BaseRetriever) and method in ("retrieve", "aretrieve"):
        return kinds.RETRIEVER
    if isinstance(instance, BaseTool) and method in ("call", "acall", "__call__"):
        return kinds.TOOL
    for cls, methods in _CHAINS:
        if isinstance(instance, cls) and method in methods:
            return kinds.CHAIN
    return None


def is_agent(workflow: Any) -> bool:
    """FunctionAgent, ReActAgent, CodeActAgent and AgentWorkflow are agents."""
    from llama_index.core.agent.workflow import AgentWorkflow, BaseWorkflowAgent

    return isinstance(workflow, BaseWorkflowAgent | AgentWorkflow)


def provider(instance: Any) -> str:
    """``openai`` for ``llama_index.llms.openai``; ``llamaindex`` for core's own models."""
    module = type(instance).__module__
    for prefix in ("llama_index.llms.", "llama_index.embeddings."):
        if module.startswith(prefix):
            return module[len(prefix) :].split(".", 1)[0]
    return "llamaindex"


def model_attributes(instance: Any) -> dict[str, Any]:
    """Provider, model class and requested model of an LLM or embedding object."""
    attrs: dict[str, Any] = {
        semconv.MODEL_CLASS: qualname(type(instance)),
        semconv.PROVIDER_NAME: provider(instance),
    }
    name: Any = getattr(instance, "model_name", None) or getattr(instance, "model", None)
    if not isinstance(name, str) and isinstance(instance, BaseLLM):
        name = instance.metadata.model_name
    if isinstance(name, str) and name:
        attrs[semconv.REQUEST_MODEL] = name
    return attrs


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def param_attributes(model_dict: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Sampling parameters from an LLM start event's model dict and call kwargs."""
    attrs: dict[str, Any] = {}
    merged = {**model_dict, **extra}
    for key, attr in _PARAM_ATTRS.items():
        value = _number(merged.get(key))
        if value is not None:
            attrs.setdefault(attr, value)
    model = merged.get("model") or merged.get("model_name")
    if isinstance(model, str) and model:
        attrs[semconv.REQUEST_MODEL] = model
    stop = merged.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list | tuple) and stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)  # pyright: ignore[reportUnknownVariableType]
    return attrs


def _text(value: Any, capture: bool) -> str | None:
    if not capture or value is None:
        return None
    return limit(redact_text(str(value)), _MESSAGE_CHARS)[0]


def _role(message: Any) -> str:
    role = getattr(getattr(message, "role", None), "value", None) or "user"
    return {"chatbot": "assistant", "model": "assistant", "function": "tool"}.get(role, role)


def tool_call_parts(calls: Sequence[Any], capture: bool) -> list[dict[str, Any]]:
    """``ToolSelection``s (or OpenAI-shaped dicts) as semconv ``tool_call`` parts."""
    parts: list[dict[str, Any]] = []
    for call in calls:
        if isinstance(call, Mapping):
            fn: Mapping[str, Any] = call.get("function") or call  # pyright: ignore[reportUnknownVariableType,reportUnknownMemberType]
            name, args, call_id = (
                fn.get("name"),
                fn.get("arguments", fn.get("args")),
                call.get("id"),
            )  # pyright: ignore[reportUnknownMemberType]
        else:
            name = getattr(call, "tool_name", None) or getattr(call, "name", None)
            args = getattr(call, "tool_kwargs", None)
            call_id = getattr(call, "tool_id", None) or getattr(call, "id", None)
        parts.append(
            {
                "type": "tool_call",
                "id": to_jsonable(call_id),
                "name": to_jsonable(name),
                "arguments": to_jsonable(args) if capture else None,
            }
        )
    return parts


def semconv_message(message: Any, capture: bool, calls: Sequence[Any] = ()) -> dict[str, Any]:
    """A LlamaIndex ``ChatMessage`` in the GenAI shape: role and parts."""
    kwargs: Mapping[str, Any] = getattr(message, "additional_kwargs", None) or {}
    content = getattr(message, "content", None)
    out: dict[str, Any] = {"role": _role(message)}
    call_id = kwargs.get("tool_call_id")
    if call_id and out["role"] == "tool":
        out["parts"] = [
            {"type": "tool_call_response", "id": str(call_id), "response": _text(content, capture)}
        ]
        return out
    parts: list[dict[str, Any]] = []
    if content:
        parts.append({"type": "text", "content": _text(content, capture)})
    raw_calls = calls or kwargs.get("tool_calls") or ()
    if isinstance(raw_calls, list | tuple):
        parts.extend(tool_call_parts(raw_calls, capture))  # pyright: ignore[reportUnknownArgumentType]
    out["parts"] = parts
    return out


def prompt_message(prompt: str, capture: bool) -> list[dict[str, Any]]:
    """A completion prompt as one semconv user message."""
    return [{"role": "user", "parts": [{"type": "text", "content": _text(prompt, capture)}]}]


def usage_attributes(response: Any) -> dict[str, Any]:
    """Token usage from a response's additional kwargs or its raw provider payload."""
    sources: list[Any] = [getattr(response, "additional_kwargs", None)]
    raw = getattr(response, "raw", None)
    usage = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)  # pyright: ignore[reportUnknownMemberType]
    sources.append(usage if isinstance(usage, Mapping) else getattr(usage, "__dict__", None))
    attrs: dict[str, Any] = {}
    for source in sources:
        if not isinstance(source, Mapping):
            continue
        for keys, attr in (
            (("prompt_tokens", "input_tokens"), semconv.USAGE_INPUT_TOKENS),
            (("completion_tokens", "output_tokens"), semconv.USAGE_OUTPUT_TOKENS),
        ):
            for key in keys:
                value = source.get(key)  # pyright: ignore[reportUnknownMemberType]
                if isinstance(value, int) and not isinstance(value, bool):
                    attrs.setdefault(attr, value)
    return attrs


def response_attributes(response: Any) -> dict[str, Any]:
    """Responded model, response id and finish reason from a raw provider payload."""
    raw: Any = getattr(response, "raw", None)
    get: Any = raw.get if isinstance(raw, Mapping) else lambda k: getattr(raw, k, None)  # pyright: ignore[reportUnknownMemberType]
    attrs: dict[str, Any] = {}
    if isinstance(model := get("model"), str) and model:
        attrs[semconv.RESPONSE_MODEL] = model
    if isinstance(rid := get("id"), str) and rid:
        attrs[semconv.RESPONSE_ID] = rid
    if isinstance(fp := get("system_fingerprint"), str) and fp:
        attrs[semconv.MODEL_SYSTEM_FINGERPRINT] = fp
    choices = get("choices")
    if isinstance(choices, list | tuple) and choices:
        first: Any = choices[0]
        reason = (
            first.get("finish_reason")
            if isinstance(first, Mapping)
            else getattr(first, "finish_reason", None)
        )  # pyright: ignore[reportUnknownMemberType]
        if isinstance(reason, str):
            attrs[semconv.RESPONSE_FINISH_REASONS] = (reason,)
    return attrs
