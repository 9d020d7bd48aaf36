"""Retriever attributes: class, vector store, search type and kwargs, documents.

LangChain's retriever callbacks carry neither ``search_kwargs`` nor the search type,
so the configuration is read from the retriever object itself, which `_inject` makes
visible to the handler while the retriever runs.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.trace import Span

from tracetape.spans import semconv
from tracetape.spans.encode import dumps, qualname, to_jsonable
from tracetape.spans.recorder import Recorder

# The retriever object whose invoke() is running (set by `_inject`).
current_retriever: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tracetape_retriever", default=None
)
# The retriever span embedding calls nest under, with its recorder.
current_embedding_parent: contextvars.ContextVar[tuple[Span, Recorder] | None] = (
    contextvars.ContextVar("tracetape_embedding_parent", default=None)
)


def _embedding_model(embeddings: Any) -> str | None:
    if embeddings is None:
        return None
    model = None
    for attr in ("model", "model_name", "deployment", "model_id"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            model = value
            break
    cls = qualname(type(embeddings))
    return f"{cls}:{model}" if model else cls


def config_attributes(retriever: Any, recorder: Recorder) -> dict[str, Any]:
    """Configuration read from the retriever object by its public attributes."""
    attrs: dict[str, Any] = {semconv.RETRIEVER_CLASS: qualname(type(retriever))}
    store = getattr(retriever, "vectorstore", None)
    if store is not None:
        attrs[semconv.RETRIEVER_VECTOR_STORE] = qualname(type(store))
        attrs[semconv.DATA_SOURCE_ID] = type(store).__name__
        embedding = _embedding_model(getattr(store, "embeddings", None))
        if embedding:
            attrs[semconv.RETRIEVER_EMBEDDING_MODEL] = embedding
    search_type = getattr(retriever, "search_type", None)
    if isinstance(search_type, str):
        attrs[semconv.RETRIEVER_SEARCH_TYPE] = search_type
    search_kwargs = getattr(retriever, "search_kwargs", None)
    if isinstance(search_kwargs, Mapping):
        recorder.display(semconv.RETRIEVER_SEARCH_KWARGS, to_jsonable(search_kwargs), attrs)
        k = search_kwargs.get("k")
        if isinstance(k, int):
            attrs[semconv.RETRIEVER_TOP_K] = k
    elif store is None:
        fields = getattr(type(retriever), "model_fields", None)
        if isinstance(fields, Mapping):
            public = {
                name: getattr(retriever, name, None)
                for name in fields
                if not name.startswith("_") and name not in ("tags", "metadata", "callbacks")
            }
            recorder.display(semconv.RETRIEVER_CONFIG, to_jsonable(public), attrs)
            for key in ("k", "top_k", "similarity_top_k"):
                if isinstance(public.get(key), int):
                    attrs[semconv.RETRIEVER_TOP_K] = public[key]
    return attrs


def start_attributes(
    query: str, metadata: Mapping[str, Any], recorder: Recorder
) -> dict[str, Any]:
    """Query text and configuration (from the running retriever object if visible)."""
    attrs: dict[str, Any] = {}
    if recorder.settings.capture_content:
        attrs[semconv.RETRIEVAL_QUERY] = dumps(to_jsonable(query))
    retriever = current_retriever.get()
    if retriever is not None:
        attrs.update(config_attributes(retriever, recorder))
    else:
        if metadata.get("ls_vector_store_provider"):
            attrs[semconv.RETRIEVER_VECTOR_STORE] = str(metadata["ls_vector_store_provider"])
        if metadata.get("ls_embedding_provider"):
            attrs[semconv.RETRIEVER_EMBEDDING_MODEL] = str(metadata["ls_embedding_provider"])
    return attrs


def on_started(span: Span, recorder: Recorder) -> None:
    """Make ``span`` the parent of embedding calls made while the retriever runs."""
    current_embedding_parent.set((span, recorder))


def on_ended() -> None:
    """Embedding calls after the retriever ended no longer nest under it."""
    current_embedding_parent.set(None)


def document_json(document: Any) -> dict[str, Any]:
    """One returned document: id, content, metadata and score where available."""
    metadata = dict(getattr(document, "metadata", None) or {})
    score = None
    for key in ("score", "relevance_score", "_score", "similarity"):
        if isinstance(metadata.get(key), int | float):
            score = metadata[key]
            break
    out: dict[str, Any] = {
        "id": getattr(document, "id", None),
        "content": getattr(document, "page_content", None),
        "metadata": to_jsonable(metadata),
    }
    if score is not None:
        out["score"] = score
    return out


def end_attributes(
    documents: Sequence[Any], recorder: Recorder, blobs: dict[str, str]
) -> dict[str, Any]:
    """The documents returned, displayed and kept whole for replay."""
    attrs: dict[str, Any] = {"tracetape.retriever.document_count": len(documents)}
    docs = [document_json(d) for d in documents]
    ids = [d["id"] for d in docs if d.get("id") is not None]
    if ids:
        attrs["tracetape.retriever.document_ids"] = tuple(str(i) for i in ids)
    if not recorder.settings.capture_content:
        return attrs
    recorder.display(semconv.RETRIEVAL_DOCUMENTS, to_jsonable(docs), attrs)
    from langchain_core.load import dumpd

    digest = recorder.content.put(dumps(to_jsonable([dumpd(d) for d in documents])), blobs)
    attrs[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
    if digest is None:
        attrs[semconv.REPLAYABLE] = False
    return attrs
