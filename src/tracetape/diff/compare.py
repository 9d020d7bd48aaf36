"""Compare two aligned steps: the causes set up in them and the effects that came out.

A prompt step carries its template (a cause) and its rendered messages (an effect); a
model call its model identity and params (a cause) and its output (an effect); a
retrieval its configuration (a cause) and its documents (an effect); a tool call its
arguments and output (effects); a node, agent or workflow step its output (an effect).
Latency and tokens come out as `MetricChange`, apart from both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tracetape.diff.causes import ModelChange, PromptChange, RetrieverChange
from tracetape.diff.changes import Change, FieldChange, Metric, MetricChange
from tracetape.diff.effects import DocumentsChange, ErrorChange, OutputChange, ToolArgsChange
from tracetape.diff.environment import flatten
from tracetape.diff.steps import Step, output_text, stable
from tracetape.spans import kinds, semconv

_MODEL_IDENTITY = {
    "request_model": semconv.REQUEST_MODEL,
    "response_model": semconv.RESPONSE_MODEL,
    "provider": semconv.PROVIDER_NAME,
    "class": semconv.MODEL_CLASS,
    "system_fingerprint": semconv.MODEL_SYSTEM_FINGERPRINT,
}
# Invocation param keys that repeat the identity above.
_IDENTITY_PARAMS = frozenset({"model", "model_name", "model_id", "_type"})
_REQUEST_PARAMS = {
    "temperature": semconv.REQUEST_TEMPERATURE,
    "top_p": semconv.REQUEST_TOP_P,
    "top_k": semconv.REQUEST_TOP_K,
    "max_tokens": semconv.REQUEST_MAX_TOKENS,
    "seed": semconv.REQUEST_SEED,
    "stop": semconv.REQUEST_STOP_SEQUENCES,
    "frequency_penalty": semconv.REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.REQUEST_PRESENCE_PENALTY,
    "n": semconv.REQUEST_CHOICE_COUNT,
}
_RETRIEVER_CONFIG = {
    "class": semconv.RETRIEVER_CLASS,
    "vector_store": semconv.RETRIEVER_VECTOR_STORE,
    "search_type": semconv.RETRIEVER_SEARCH_TYPE,
    "search_kwargs": semconv.RETRIEVER_SEARCH_KWARGS,
    "embedding_model": semconv.RETRIEVER_EMBEDDING_MODEL,
    "config": semconv.RETRIEVER_CONFIG,
}


def _attr(step: Step, key: str) -> Any:
    """An attribute, JSON text decoded (some are stored as JSON strings)."""
    raw = step.attributes.get(key)
    if isinstance(raw, str) and raw[:1] in "[{":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def field_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """The keys whose values differ, sorted (a key missing on one side is None there)."""
    return tuple(
        FieldChange(key, a.get(key), b.get(key))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    )


# -- causes -------------------------------------------------------------------------------
def template_text(template: Any) -> str:
    """A recorded template as text: chat templates one ``[role] template`` per message."""
    if template is None:
        return ""
    if isinstance(template, str):
        return template
    if isinstance(template, list):
        lines: list[str] = []
        for message in template:
            if isinstance(message, dict) and "template" in message:
                lines.append(f"[{message.get('role')}] {message['template']}")
            else:
                lines.append(json.dumps(message, sort_keys=True, default=str))
        return "\n".join(lines)
    return json.dumps(template, sort_keys=True, default=str)


def prompt_change(a: Step, b: Step) -> PromptChange | None:
    """The template's text, variables, format or class, when any differs."""
    text_a = template_text(_attr(a, semconv.PROMPT_TEMPLATE))
    text_b = template_text(_attr(b, semconv.PROMPT_TEMPLATE))
    vars_a = tuple(_attr(a, semconv.PROMPT_VARIABLES) or ())
    vars_b = tuple(_attr(b, semconv.PROMPT_VARIABLES) or ())
    other = ("format", semconv.PROMPT_FORMAT), ("class", semconv.PROMPT_CLASS)
    fields = field_changes({k: _attr(a, v) for k, v in other}, {k: _attr(b, v) for k, v in other})
    if text_a == text_b and set(vars_a) == set(vars_b) and not fields:
        # The shown template may be cut at the display limit; its hash covers it whole.
        hashes = {"hash": _attr(a, semconv.PROMPT_HASH)}, {"hash": _attr(b, semconv.PROMPT_HASH)}
        fields = field_changes(*hashes)
        if not fields:
            return None
    return PromptChange(
        name=a.name, text_a=text_a, text_b=text_b, variables_a=vars_a, variables_b=vars_b,
        fields=fields,
    )  # fmt: skip


def _values(step: Step) -> Any:
    """A prompt's variables' values as recorded whole (None when absent or cut)."""
    truncated = _attr(step, semconv.TRUNCATED)
    if isinstance(truncated, list | tuple) and semconv.PROMPT_VALUES in truncated:
        return None
    return stable(_attr(step, semconv.PROMPT_VALUES))


def rendering_implied(a: Step, b: Step) -> bool:
    """Whether two aligned prompts' renderings differ only as their template edit implies:
    the same variables with the same values, recorded whole on both sides (values shown
    cut at the display limit prove nothing)."""
    names_a = tuple(_attr(a, semconv.PROMPT_VARIABLES) or ())
    names_b = tuple(_attr(b, semconv.PROMPT_VARIABLES) or ())
    values_a, values_b = _values(a), _values(b)
    return set(names_a) == set(names_b) and values_a is not None and values_a == values_b


def _tool_names(definitions: Any) -> Any:
    if not isinstance(definitions, list):
        return definitions
    names: list[Any] = []
    for item in definitions:
        function = item.get("function") if isinstance(item, dict) else None
        source = function if isinstance(function, dict) else item
        names.append(source.get("name", source) if isinstance(source, dict) else source)
    return names


def model_settings(step: Step) -> dict[str, Any]:
    """A model call's identity and params as dotted keys (``params.temperature``)."""
    config = {name: _attr(step, key) for name, key in _MODEL_IDENTITY.items()}
    invocation = _attr(step, semconv.INVOCATION_PARAMS)
    if isinstance(invocation, dict):
        params = {k: v for k, v in invocation.items() if k not in _IDENTITY_PARAMS}
    else:
        params = {name: _attr(step, key) for name, key in _REQUEST_PARAMS.items()}
    params["response_format"] = _attr(step, semconv.RESPONSE_FORMAT)
    params["tools"] = _tool_names(_attr(step, semconv.TOOL_DEFINITIONS))
    config.update(flatten({"params": params}))
    return {k: v for k, v in config.items() if v is not None}


_RESPONSE_SIDE = ("response_model", "system_fingerprint")
"""What only a response tells: a call that failed has none to compare."""


def model_change(a: Step, b: Step) -> ModelChange | None:
    settings_a, settings_b = model_settings(a), model_settings(b)
    if a.error or b.error:
        for key in _RESPONSE_SIDE:
            settings_a.pop(key, None)
            settings_b.pop(key, None)
    fields = field_changes(settings_a, settings_b)
    return ModelChange(name=a.name, fields=fields) if fields else None


def retriever_config(step: Step) -> dict[str, Any]:
    """A retriever's configuration as dotted keys (``search_kwargs.k``)."""
    config = {name: _attr(step, key) for name, key in _RETRIEVER_CONFIG.items()}
    if not isinstance(config["search_kwargs"], dict) or "k" not in config["search_kwargs"]:
        config["k"] = _attr(step, semconv.RETRIEVER_TOP_K)
    return {k: v for k, v in flatten(config).items() if v is not None}


def retriever_change(a: Step, b: Step) -> RetrieverChange | None:
    fields = field_changes(retriever_config(a), retriever_config(b))
    return RetrieverChange(name=a.name, fields=fields) if fields else None


def step_causes(a: Step, b: Step) -> list[Change]:
    """What was set up differently in two aligned steps."""
    found: Change | None = None
    if a.kind == kinds.PROMPT:
        found = prompt_change(a, b)
    elif a.kind == kinds.LLM:
        found = model_change(a, b)
    elif a.kind == kinds.RETRIEVER:
        found = retriever_change(a, b)
    return [found] if found is not None else []


# -- effects ------------------------------------------------------------------------------
def document_ids(step: Step) -> tuple[str, ...]:
    """The retrieved documents' ids in rank order (their text where a store gave none)."""
    ids = _attr(step, semconv.RETRIEVER_DOCUMENT_IDS)
    if isinstance(ids, list) and all(ids):
        return tuple(str(i) for i in ids)
    documents = step.output if isinstance(step.output, list) else []
    return tuple(
        str(d.get("id") or d.get("content") or d) if isinstance(d, dict) else str(d)
        for d in documents
    )


def _arguments(step: Step) -> dict[str, Any]:
    args = _attr(step, semconv.TOOL_CALL_ARGUMENTS)
    if isinstance(args, dict):
        return flatten(args)
    return {} if args is None else {"input": args}


def step_effects(a: Step, b: Step, label: str) -> list[Change]:
    """What came out differently of two aligned steps (given the pair's ``label``)."""
    effects: list[Change] = []
    text_a, text_b = output_text(a.output), output_text(b.output)
    if a.kind == kinds.RETRIEVER:
        ids_a, ids_b = document_ids(a), document_ids(b)
        if ids_a != ids_b:
            effects.append(DocumentsChange(step=label, ids_a=ids_a, ids_b=ids_b))
            text_a = text_b  # the documents say it; their text is not repeated
    elif a.kind == kinds.TOOL:
        fields = field_changes(_arguments(a), _arguments(b))
        if fields:
            effects.append(ToolArgsChange(step=label, fields=fields))
    if text_a != text_b:
        effects.append(OutputChange(step=label, text_a=text_a, text_b=text_b))
    if a.error != b.error:
        effects.append(ErrorChange(step=label, error_a=a.error, error_b=b.error))
    return effects


def step_metrics(a: Step, b: Step, label: str) -> list[MetricChange]:
    """Latency and tokens of two aligned steps, those that differ."""
    pairs: tuple[tuple[Metric, float | None, float | None], ...] = (
        ("duration_ms", a.duration_ms, b.duration_ms),
        ("input_tokens", a.input_tokens, b.input_tokens),
        ("output_tokens", a.output_tokens, b.output_tokens),
    )
    return [
        MetricChange(step=label, metric=metric, value_a=va, value_b=vb)
        for metric, va, vb in pairs
        if va != vb
    ]
