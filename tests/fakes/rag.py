"""RAG stand-ins: an in-memory vector store over deterministic fake embeddings."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore

DIMENSIONS = 16

TEXTS = {
    "doc-cats": ("Cats sleep sixteen hours a day.", {"topic": "cats", "year": 2021}),
    "doc-dogs": ("Dogs were domesticated from wolves.", {"topic": "dogs", "year": 2019}),
    "doc-birds": ("Some birds migrate thousands of kilometres.", {"topic": "birds", "year": 2022}),
    "doc-fish": ("Fish breathe through gills.", {"topic": "fish", "year": 2020}),
    "doc-bees": ("Bees dance to show where flowers are.", {"topic": "bees", "year": 2023}),
}


class ScoredInMemoryVectorStore(InMemoryVectorStore):
    """InMemoryVectorStore that can also turn its cosine similarity into a relevance score.

    langchain-core's InMemoryVectorStore does not pick a relevance function, so
    ``search_type="similarity_score_threshold"`` raises NotImplementedError on it; this
    maps cosine similarity (-1..1) onto 0..1, LangChain's documented extension point.
    """

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda similarity: (similarity + 1.0) / 2.0


def documents() -> list[Document]:
    return [
        Document(id=doc_id, page_content=text, metadata=meta)
        for doc_id, (text, meta) in TEXTS.items()
    ]


def embeddings() -> DeterministicFakeEmbedding:
    return DeterministicFakeEmbedding(size=DIMENSIONS)


def store() -> ScoredInMemoryVectorStore:
    """A filled store (the index is built before any tape records)."""
    built = ScoredInMemoryVectorStore(embeddings())
    built.add_documents(documents())
    return built
