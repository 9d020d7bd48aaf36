"""Retriever attributes: class, vector store, search type and kwargs, documents, scores.

LangChain's retriever callbacks carry neither ``search_kwargs`` nor the search type,
so the configuration is read from the retriever object itself, which `_inject` makes
visible while the retriever runs: ``BaseRetriever.invoke/ainvoke`` are wrapped to set
`current_retriever` and open a `Retrieval` scope. The handler fills the scope with the
retriever span (`on_started`), embedding calls nest under that span, and the public
score-returning ``VectorStore`` search methods note their scores in it, so the
documents the retriever returns are recorded with the score the search gave them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span

from tracetape.spans import semconv
from tracetape.spans.encode import dumps, qualname, to_jsonable
from tracetape.spans.recorder import Recorder

# The retriever object whose invoke() is running (set by `_inject`).
current_retriever: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tracetape_retriever", default=None
)

_METADATA_SCORE_KEYS = ("score", "relevance_score", "_score", "similarity")
_CONFIG_SKIP = frozenset({"tags", "metadata", "callbacks", "verbose", "name"})


@dataclass(slots=True, eq=False)
class Retrieval:
    """One running retriever invocation, as the handler and the wrappers see it.

    Attributes:
        retriever: the retriever object whose ``invoke``/``ainvoke`` is running.
        span: the retriever span while it is open (None when no handler records it).
        recorder: the recorder of that span.
        scores: ``id(document) -> (document, score)`` from ``similarity_search_with_score``
            (the store's native score: a similarity or a distance, store-dependent).
        relevance: the same from ``similarity_search_with_relevance_scores`` (0..1).
    """

    retriever: Any
    span: Span | None = None
    recorder: Recorder | None = None
    scores: dict[int, tuple[Any, float]] = field(default_factory=dict[int, tuple[Any, float]])
    relevance: dict[int, tuple[Any, float]] = field(default_factory=dict[int, tuple[Any, float]])

    def note_scores(self, result: Any, relevance: bool) -> None:
        """Remember the score of each ``(document, score)`` pair in ``result``."""
        if not isinstance(result, list | tuple):
            return
        target = self.relevance if relevance else self.scores
        for item in result:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(item, tuple) and len(item) == 2:  # pyright: ignore[reportUnknownArgumentType]
                doc, score = item  # pyright: ignore[reportUnknownVariableType]
                if isinstance(score, int | float) and not isinstance(score, bool):
                    # Keep the document itself: its id() stays unique while we hold it.
                    target[id(doc)] = (doc, float(score))  # pyright: ignore[reportUnknownArgumentType]

    def score_of(self, document: Any) -> dict[str, float]:
        """``score`` and ``relevance_score`` noted for this very document object."""
        out: dict[str, float] = {}
        for key, table in (("score", self.scores), ("relevance_score", self.relevance)):
            hit = table.get(id(document))
            if hit is not None and hit[0] is document:
                out[key] = hit[1]
        return out


# The running retriever invocation (set by `_inject` around invoke/ainvoke).
current_retrieval: contextvars.ContextVar[Retrieval | None] = contextvars.ContextVar(
    "tracetape_retrieval", default=None
)


def embedding_model(embeddings: Any) -> tuple[str, str | None]:
    """(class qualname, model name or None) of an ``Embeddings`` object."""
    for attr in ("model", "model_name", "deployment", "model_id"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            return qualname(type(embeddings)), value
    return qualname(type(embeddings)), None


def _embedding_label(embeddings: Any) -> str | None:
    if embeddings is None:
        return None
    cls, model = embedding_model(embeddings)
    return f"{cls}:{model}" if model else cls


def _store_embeddings(store: Any) -> Any:
    # `embeddings` is VectorStore's public property; some stores only set `embedding`.
    try:
        found = getattr(store, "embeddings", None)
    except NotImplementedError:
        found = None
    return found if found is not None else getattr(store, "embedding", None)


def kwarg_json(value: Any) -> Any:
    """A search-kwarg value as JSON; a callable (a filter function) by its name only.

    Reprs of functions carry memory addresses, which would make two identical
    configurations differ when diffed.
    """
    if callable(value) and not isinstance(value, type):
        name = getattr(value, "__qualname__", None) or qualname(type(value))
        module = getattr(value, "__module__", None)
        return {"callable": f"{module}.{name}" if module else str(name)}
    if isinstance(value, Mapping):
        return {str(k): kwarg_json(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [kwarg_json(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return to_jsonable(value)


def config_attributes(retriever: Any, recorder: Recorder) -> dict[str, Any]:
    """Configuration read from the retriever object by its public attributes."""
    attrs: dict[str, Any] = {semconv.RETRIEVER_CLASS: qualname(type(retriever))}
    store = getattr(retriever, "vectorstore", None)
    if store is not None:
        attrs[semconv.RETRIEVER_VECTOR_STORE] = qualname(type(store))
        attrs[semconv.DATA_SOURCE_ID] = type(store).__name__
        embedding = _embedding_label(_store_embeddings(store))
        if embedding:
            attrs[semconv.RETRIEVER_EMBEDDING_MODEL] = embedding
    search_type = getattr(retriever, "search_type", None)
    if isinstance(search_type, str):
        attrs[semconv.RETRIEVER_SEARCH_TYPE] = search_type
    search_kwargs = getattr(retriever, "search_kwargs", None)
    if isinstance(search_kwargs, Mapping):
        recorder.display(semconv.RETRIEVER_SEARCH_KWARGS, kwarg_json(search_kwargs), attrs)
        k = search_kwargs.get("k")
        if isinstance(k, int):
            attrs[semconv.RETRIEVER_TOP_K] = k
    elif store is None:
        fields = getattr(type(retriever), "model_fields", None)
        if isinstance(fields, Mapping):
            public = {
                str(name): getattr(retriever, str(name), None)
                for name in fields  # pyright: ignore[reportUnknownVariableType]
                if not str(name).startswith("_") and name not in _CONFIG_SKIP
            }
            recorder.display(semconv.RETRIEVER_CONFIG, kwarg_json(public), attrs)
            for key in ("k", "top_k", "similarity_top_k"):
                value = public.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    attrs[semconv.RETRIEVER_TOP_K] = value
                    break
    return attrs


def start_attributes(query: str, metadata: Mapping[str, Any], recorder: Recorder) -> dict[str, Any]:
    """Query text and configuration (from the running retriever object if visible)."""
    attrs: dict[str, Any] = {}
    if recorder.settings.capture_content:
        attrs[semconv.RETRIEVAL_QUERY] = dumps(to_jsonable(query))
    retriever = current_retriever.get()
    if retriever is not None:
        attrs.update(config_attributes(retriever, recorder))
    else:
        # Without the object, LangChain's tracing metadata names the classes only.
        if metadata.get("ls_vector_store_provider"):
            attrs[semconv.RETRIEVER_VECTOR_STORE] = str(metadata["ls_vector_store_provider"])
        if metadata.get("ls_embedding_provider"):
            attrs[semconv.RETRIEVER_EMBEDDING_MODEL] = str(metadata["ls_embedding_provider"])
    return attrs


def on_started(span: Span, recorder: Recorder) -> None:
    """Make ``span`` the parent of embedding calls made while the retriever runs."""
    scope = current_retrieval.get()
    if scope is not None:
        scope.span = span
        scope.recorder = recorder


def on_ended() -> None:
    """Embedding calls after the retriever ended no longer nest under it."""
    scope = current_retrieval.get()
    if scope is not None:
        scope.span = None


def embedding_parent() -> tuple[Span, Recorder] | None:
    """The open retriever span (and its recorder) embedding calls nest under, if any."""
    scope = current_retrieval.get()
    if scope is None or scope.span is None or scope.recorder is None:
        return None
    return scope.span, scope.recorder


def document_json(document: Any, scope: Retrieval | None = None) -> dict[str, Any]:
    """One returned document: id, content, metadata and score where available."""
    raw_metadata = getattr(document, "metadata", None)
    metadata: dict[str, Any] = (
        {str(k): v for k, v in raw_metadata.items()}  # pyright: ignore[reportUnknownVariableType]
        if isinstance(raw_metadata, Mapping)
        else {}
    )
    out: dict[str, Any] = {
        "id": to_jsonable(getattr(document, "id", None)),
        "content": to_jsonable(getattr(document, "page_content", None)),
        "metadata": to_jsonable(metadata),
    }
    # Rerankers and some stores put the score in the metadata; the search's own score,
    # when a wrapper saw it, is more precise and wins.
    for key in _METADATA_SCORE_KEYS:
        value = metadata.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out["score"] = value
            break
    if scope is not None:
        out.update(scope.score_of(document))
    return out


def end_attributes(
    documents: Sequence[Any], recorder: Recorder, blobs: dict[str, str]
) -> dict[str, Any]:
    """The documents returned (ids, metadata, scores), displayed and kept for replay."""
    scope = current_retrieval.get()
    docs = [document_json(d, scope) for d in documents]
    attrs: dict[str, Any] = {semconv.RETRIEVER_DOCUMENT_COUNT: len(docs)}
    ids = [str(d["id"]) for d in docs if d.get("id") is not None]
    if ids:
        attrs[semconv.RETRIEVER_DOCUMENT_IDS] = tuple(ids)
    scores = [d.get("relevance_score", d.get("score")) for d in docs]
    if docs and all(isinstance(s, float | int) for s in scores):
        attrs[semconv.RETRIEVER_SCORES] = tuple(float(s) for s in scores)  # pyright: ignore[reportArgumentType]
    if not recorder.settings.capture_content:
        return attrs
    recorder.display(semconv.RETRIEVAL_DOCUMENTS, docs, attrs)
    from langchain_core.load import dumpd

    digest = recorder.content.put(dumps(to_jsonable([dumpd(d) for d in documents])), blobs)
    attrs[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
    if digest is None:
        attrs[semconv.REPLAYABLE] = False
    return attrs
