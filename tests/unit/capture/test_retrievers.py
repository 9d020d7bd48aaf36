"""Retriever scope, score matching, search-kwarg and document encoding, embedding dims."""

from __future__ import annotations

from langchain_core.documents import Document

from tracetape.capture.langchain.embeddings import dimensions, provider
from tracetape.capture.langchain.retrievers import Retrieval, document_json, kwarg_json


def only_recent(doc: Document) -> bool:
    return doc.metadata.get("year", 0) > 2020


def test_scores_match_the_very_document_objects():
    a, b, twin = Document("a", id="1"), Document("b", id="2"), Document("a", id="1")
    scope = Retrieval(retriever=None)
    scope.note_scores([(a, 0.25), (b, 0.5)], relevance=False)
    scope.note_scores([(a, 0.9), ("not a pair",), (b, "high")], relevance=True)
    scope.note_scores(None, relevance=True)
    assert scope.score_of(a) == {"score": 0.25, "relevance_score": 0.9}
    assert scope.score_of(b) == {"score": 0.5}
    assert scope.score_of(twin) == {}  # equal content, different object: no guess


def test_document_json_reads_metadata_scores_and_prefers_the_search_score():
    doc = Document("text", id="d", metadata={"relevance_score": 0.7, "src": "x"})
    assert document_json(doc) == {
        "id": "d",
        "content": "text",
        "metadata": {"relevance_score": 0.7, "src": "x"},
        "score": 0.7,
    }
    scope = Retrieval(retriever=None)
    scope.note_scores([(doc, 0.1)], relevance=False)
    assert document_json(doc, scope)["score"] == 0.1


def test_kwarg_json_names_callables_instead_of_repr():
    encoded = kwarg_json({"k": 3, "filter": only_recent, "nested": {"f": [only_recent, 1]}})
    name = {"callable": f"{__name__}.only_recent"}
    assert encoded == {"k": 3, "filter": name, "nested": {"f": [name, 1]}}


def test_dimensions_of_query_and_document_embeddings():
    assert dimensions([0.1, 0.2, 0.3]) == 3
    assert dimensions([[0.1, 0.2], [0.3, 0.4]]) == 2
    assert dimensions([]) is None
    assert dimensions(None) is None


def test_provider_from_integration_package():
    fake = type("OpenAIEmbeddings", (), {"__module__": "langchain_openai.embeddings.base"})
    core = type("DeterministicFakeEmbedding", (), {"__module__": "langchain_core.embeddings.fake"})
    assert provider(fake) == "openai"
    assert provider(core) is None
