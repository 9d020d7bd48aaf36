"""Artifacts and documents read from what spans already record (nothing extra is
recorded for lineage, so it costs the recording path nothing).

* A **prompt artifact** is a prompt template version: its id is the template's content
  hash that every prompt span carries (``tracetape.prompt.hash``, already
  ``sha256:...``), its name the prompt span's name (the template class, or the run name
  the user gave it).
* A **model artifact** is a model as far as the recording can tell versions apart: its
  id is ``sha256:`` of the provider, requested model, responded model, system
  fingerprint and model class an llm span carries (`model_identity`), so a provider
  that silently moves ``gpt-4o`` to a new snapshot (a new responded model or
  fingerprint) is a new model artifact. The id is defined once, for SQL and Python
  alike, in `tracetape.store.schema.derived_artifacts`: the ``artifacts`` and
  ``artifact_links`` views list the same prompt and model artifacts.
* **Retrieved documents** are read from the retriever span's displayed documents, or,
  when those were cut to the display limit, from the whole payload kept for replay
  (LangChain's ``dumpd`` form or LlamaIndex's ``to_dict``); their text is hashed like a
  dataset's members (`tracetape.store.artifact_hash.member_hash`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracetape.spans import semconv
from tracetape.store.artifact_hash import member_hash
from tracetape.store.schema.derived_artifacts import model_artifact_id as model_artifact_id
from tracetape.store.schema.derived_artifacts import model_identity as model_identity
from tracetape.store.schema.derived_artifacts import model_name as model_name

PARAM_PREFIX = "gen_ai.request."


@dataclass(frozen=True)
class Document:
    """One document a retriever returned, as lineage matches it."""

    content_sha256: str | None
    id: str | None
    ref_doc_id: str | None = None
    text: str | None = None


def truncated(value: Any) -> bool:
    """True for an attribute value cut to the display limit (`spans.encode.limit_json`)."""
    return isinstance(value, Mapping) and bool(value.get("tracetape.truncated"))  # pyright: ignore[reportUnknownMemberType]


def request_params(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling parameters of a model call (``gen_ai.request.*`` but the model)."""
    return {
        key.removeprefix(PARAM_PREFIX): value
        for key, value in attrs.items()
        if key.startswith(PARAM_PREFIX) and key != semconv.REQUEST_MODEL
    }


def _text_of(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _document(content: Any, doc_id: Any, ref: Any = None) -> Document:
    text = _text_of(content)
    return Document(
        content_sha256=member_hash(text) if text is not None else None,
        id=str(doc_id) if doc_id not in (None, "") else None,
        ref_doc_id=str(ref) if ref not in (None, "") else None,
        text=text,
    )


def displayed_documents(value: Any) -> list[Document] | None:
    """Documents from ``gen_ai.retrieval.documents``; None when absent or cut."""
    if not isinstance(value, list):
        return None
    docs: list[Document] = []
    for item in value:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(item, Mapping):
            docs.append(_document(item.get("content"), item.get("id"), item.get("ref_doc_id")))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return docs


def payload_documents(payload: Any) -> list[Document]:
    """Documents from a retriever's whole payload: LangChain ``dumpd`` Documents
    (``kwargs.page_content``) or LlamaIndex ``NodeWithScore.to_dict`` (``node.text``)."""
    docs: list[Document] = []
    for item in payload if isinstance(payload, list) else []:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, Mapping):
            continue
        kwargs = item.get("kwargs")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if isinstance(kwargs, Mapping):
            docs.append(_document(kwargs.get("page_content"), kwargs.get("id")))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
            continue
        node = item.get("node", item)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if isinstance(node, Mapping):
            relations = node.get("relationships")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            source = relations.get("1") if isinstance(relations, Mapping) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            ref = source.get("node_id") if isinstance(source, Mapping) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            docs.append(_document(node.get("text"), node.get("id_"), ref))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    return docs


def id_documents(attrs: Mapping[str, Any]) -> list[Document]:
    """Documents known by id only (content capture off)."""
    ids = attrs.get(semconv.RETRIEVER_DOCUMENT_IDS)
    return [_document(None, i) for i in ids] if isinstance(ids, list) else []  # pyright: ignore[reportUnknownVariableType]


def payload_hashes(attrs: Mapping[str, Any]) -> list[str]:
    """The blob hashes of a span's whole output payload (``tracetape.replay.output``)."""
    value = attrs.get(semconv.REPLAY_OUTPUT)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []  # pyright: ignore[reportUnknownVariableType]


_TEXT_KEYS = frozenset({"content", "response"})
"""Keys whose strings are message text: a part's ``content``, a tool response."""


def message_texts(value: Any) -> list[str]:
    """Every text in a recorded message list (semconv ``parts[].content`` and tool call
    ``response``, which may be structured: all its strings) or a plain string."""
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    if isinstance(value, Mapping):
        if truncated(value):
            return out
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            if key in _TEXT_KEYS and isinstance(item, str):
                out.append(item)
            elif key == "response":
                out.extend(_strings(item))
            elif isinstance(item, list | Mapping):
                out.extend(message_texts(item))
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            out.extend(message_texts(item))
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _strings(v)]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [t for v in value for t in _strings(v)]  # pyright: ignore[reportUnknownVariableType]
    return []


def tool_call_ids(value: Any, part_type: str) -> list[str]:
    """The ids of the ``tool_call`` (a model's request) or ``tool_call_response`` (a
    tool's answer) parts of a recorded message list."""
    found: list[str] = []
    for message in value if isinstance(value, list) else []:  # pyright: ignore[reportUnknownVariableType]
        parts = message.get("parts") if isinstance(message, Mapping) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        for part in parts if isinstance(parts, list) else []:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(part, Mapping) and part.get("type") == part_type:  # pyright: ignore[reportUnknownMemberType]
                call_id = part.get("id")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
                if isinstance(call_id, str) and call_id:
                    found.append(call_id)
    return found
