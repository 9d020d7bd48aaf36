"""Retriever, prompt-template, tool and workflow attributes of LlamaIndex spans."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from workflows.events import Event, StopEvent

from tracetape.capture.llamaindex import _compat
from tracetape.spans import semconv
from tracetape.spans.encode import dumps, qualname, to_jsonable
from tracetape.spans.recorder import Recorder

_SETTING_SKIP = frozenset({"vector_store", "embed_model"})


def _label(obj: Any) -> str | None:
    if obj is None:
        return None
    name = getattr(obj, "model_name", None)
    cls = qualname(type(obj))
    return f"{cls}:{name}" if isinstance(name, str) and name else cls


def retriever_attributes(retriever: Any, recorder: Recorder) -> dict[str, Any]:
    """Class, vector store, embedding model, ``similarity_top_k`` and other settings."""
    attrs: dict[str, Any] = {semconv.RETRIEVER_CLASS: qualname(type(retriever))}
    settings = _compat.retriever_settings(retriever)
    store = settings.get("vector_store")
    if store is not None:
        attrs[semconv.RETRIEVER_VECTOR_STORE] = qualname(type(store))
        attrs[semconv.DATA_SOURCE_ID] = type(store).__name__
    embedding = _label(settings.get("embed_model"))
    if embedding:
        attrs[semconv.RETRIEVER_EMBEDDING_MODEL] = embedding
    top_k = getattr(retriever, "similarity_top_k", None)
    kwargs: dict[str, Any] = {k: v for k, v in settings.items() if k not in _SETTING_SKIP}
    if isinstance(top_k, int) and not isinstance(top_k, bool):
        attrs[semconv.RETRIEVER_TOP_K] = top_k
        kwargs["similarity_top_k"] = top_k
    mode = getattr(kwargs.get("mode"), "value", None)
    if isinstance(mode, str):
        attrs[semconv.RETRIEVER_SEARCH_TYPE] = mode
        kwargs["mode"] = mode
    if kwargs:
        recorder.display(semconv.RETRIEVER_SEARCH_KWARGS, to_jsonable(kwargs), attrs)
    return attrs


def query_text(query: Any) -> str:
    """The text of a ``QueryBundle`` or a plain query string."""
    text = getattr(query, "query_str", query)
    return text if isinstance(text, str) else str(text)


def node_json(node: Any) -> dict[str, Any]:
    """One returned ``NodeWithScore``: id, content, metadata and score."""
    inner = getattr(node, "node", node)
    get_content = getattr(inner, "get_content", None)
    content = get_content() if callable(get_content) else getattr(inner, "text", None)
    out: dict[str, Any] = {
        "id": to_jsonable(getattr(inner, "node_id", None)),
        "content": to_jsonable(content),
        "metadata": to_jsonable(getattr(inner, "metadata", None) or {}),
    }
    ref = getattr(inner, "ref_doc_id", None)
    if ref:
        out["ref_doc_id"] = to_jsonable(ref)
    score = getattr(node, "score", None)
    if isinstance(score, int | float) and not isinstance(score, bool):
        out["score"] = float(score)
    return out


def _whole(node: Any) -> Any:
    """A node in LlamaIndex's own serialised form (``to_dict``), for replay."""
    to_dict = getattr(node, "to_dict", None)
    return to_dict() if callable(to_dict) else node


def nodes_attributes(
    nodes: Sequence[Any], recorder: Recorder, blobs: dict[str, str]
) -> dict[str, Any]:
    """The nodes a retriever returned: count, ids, scores, and whole for replay."""
    docs = [node_json(n) for n in nodes]
    attrs: dict[str, Any] = {semconv.RETRIEVER_DOCUMENT_COUNT: len(docs)}
    ids = [str(d["id"]) for d in docs if d.get("id") is not None]
    if ids:
        attrs[semconv.RETRIEVER_DOCUMENT_IDS] = tuple(ids)
    scores = [d.get("score") for d in docs]
    if docs and all(isinstance(s, float) for s in scores):
        attrs[semconv.RETRIEVER_SCORES] = tuple(scores)
    if not recorder.settings.capture_content:
        return attrs
    recorder.display(semconv.RETRIEVAL_DOCUMENTS, docs, attrs)
    recorder.display(semconv.OUTPUT, docs, attrs)
    whole = [_whole(n) for n in nodes]
    digest = recorder.content.put(dumps(to_jsonable(whole)), blobs)
    attrs[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
    if digest is None:
        attrs[semconv.REPLAYABLE] = False
    return attrs


def template_parts(template: Any) -> list[dict[str, Any]]:
    """Template text per message (role, template), in render order."""
    inner = getattr(template, "default_template", None)
    if inner is not None:  # SelectorPromptTemplate: the default is what versions it
        return template_parts(inner)
    messages = getattr(template, "message_templates", None)
    if isinstance(messages, list):
        return [
            {"role": getattr(getattr(m, "role", None), "value", "user"), "template": m.content}
            for m in messages  # pyright: ignore[reportUnknownVariableType]
        ]
    text = getattr(template, "template", None)
    if not isinstance(text, str):
        text = template.get_template()
    return [{"role": "text", "template": text}]


def template_hash(cls_name: str, parts: list[dict[str, Any]], partials: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the template's canonical form (the same scheme as LangChain's)."""
    stable = json.loads(dumps(to_jsonable({k: partials[k] for k in sorted(partials)})))
    canonical = json.dumps(
        {"class": cls_name, "parts": parts, "partials": stable},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def prompt_attributes(
    template: Any, args: Mapping[str, Any] | None, recorder: Recorder
) -> dict[str, Any]:
    """Template text, format, variables, values and the version hash of a prompt."""
    parts = template_parts(template)
    partials: Mapping[str, Any] = getattr(template, "kwargs", None) or {}
    cls_name = type(template).__name__
    variables = getattr(template, "template_vars", None) or []
    attrs: dict[str, Any] = {
        semconv.PROMPT_CLASS: cls_name,
        semconv.PROMPT_FORMAT: "f-string",
        semconv.PROMPT_VARIABLES: tuple(str(v) for v in variables),  # pyright: ignore[reportUnknownVariableType]
        semconv.PROMPT_HASH: template_hash(cls_name, parts, partials),
    }
    recorder.display(semconv.PROMPT_TEMPLATE, to_jsonable(parts), attrs)
    if recorder.settings.capture_content:
        values = {**partials, **(args or {})}
        recorder.display(semconv.PROMPT_VALUES, to_jsonable(values), attrs)
        recorder.display(semconv.INPUT, to_jsonable(values), attrs)
    return attrs


def tool_attributes(tool: Any, arguments: Mapping[str, Any], recorder: Recorder) -> dict[str, Any]:
    """Name, description, argument schema and arguments of a tool call."""
    meta = getattr(tool, "metadata", None)
    attrs: dict[str, Any] = {semconv.TOOL_TYPE: "function"}
    name = meta.get_name() if meta is not None else type(tool).__name__
    attrs[semconv.TOOL_NAME] = name
    description = getattr(meta, "description", None)
    if isinstance(description, str):
        attrs[semconv.TOOL_DESCRIPTION] = description
    schema = getattr(meta, "get_parameters_dict", None)
    if callable(schema):
        recorder.display(semconv.TOOL_ARGS_SCHEMA, to_jsonable(schema()), attrs)
    args: dict[str, Any] = dict(arguments.get("kwargs") or {})
    if arguments.get("args"):
        args["args"] = arguments["args"]
    if recorder.settings.capture_content:
        recorder.display(semconv.TOOL_CALL_ARGUMENTS, to_jsonable(args), attrs)
        recorder.display(semconv.INPUT, to_jsonable(args), attrs)
    return attrs


def event_json(event: Any) -> Any:
    """A workflow event as JSON: its class, its fields and its dynamic (dict) fields."""
    data = to_jsonable(event)
    if isinstance(data, dict) and isinstance(event, Event):
        data.update(to_jsonable(dict(event.items())))
    if isinstance(data, dict) and isinstance(event, StopEvent):
        data["result"] = to_jsonable(event.result)  # a public property, not a field
    return {"event": type(event).__name__, "data": data}


def call_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A root call's arguments as JSON, whole for replay: a workflow's start event with
    its fields (as `event_json` gives them; plain ``to_jsonable`` sees none of an
    event's dynamic fields, such as an agent's ``user_msg``)."""
    return {
        str(k): event_json(v) if isinstance(v, Event) else to_jsonable(v)
        for k, v in arguments.items()
    }
