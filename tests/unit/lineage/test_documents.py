"""Retrieved documents: read from what a retriever span kept, matched to datasets."""

from __future__ import annotations

from tracetape.lineage import trace_edges
from tracetape.lineage.derived import Document, message_texts, payload_documents
from tracetape.spans import semconv
from tracetape.store.artifact_hash import member_hash

CATS = "Cats sleep sixteen hours a day."


def test_whole_payloads_of_langchain_and_llamaindex_give_text_and_ids() -> None:
    langchain = [{"lc": 1, "type": "constructor", "kwargs": {"id": "d1", "page_content": CATS}}]
    llamaindex = [
        {"node": {"id_": "n1", "text": CATS, "relationships": {"1": {"node_id": "doc-1"}}},
         "score": 0.5, "class_name": "NodeWithScore"}
    ]  # fmt: skip
    assert payload_documents(langchain) == [Document(member_hash(CATS), "d1", None, CATS)]
    assert payload_documents(llamaindex) == [Document(member_hash(CATS), "n1", "doc-1", CATS)]


def test_documents_cut_for_display_are_read_from_the_whole_payload() -> None:
    cut = {"tracetape.truncated": True, "total_chars": 90000, "shown_chars": 10, "head": "[{"}
    attrs = {semconv.RETRIEVAL_DOCUMENTS: cut, semconv.REPLAY_OUTPUT: ["ab" * 32]}
    whole = [{"kwargs": {"id": "d1", "page_content": CATS}}]

    assert trace_edges.needs_payload(attrs) == ["ab" * 32]
    assert [d.id for d in trace_edges.retrieved(attrs, {"ab" * 32: whole})] == ["d1"]
    # Without the payload, the ids the span kept are all there is.
    ids_only = {semconv.RETRIEVAL_DOCUMENTS: cut, semconv.RETRIEVER_DOCUMENT_IDS: ["d1", "d2"]}
    assert [(d.id, d.text) for d in trace_edges.retrieved(ids_only, {})] == [
        ("d1", None),
        ("d2", None),
    ]


def test_a_document_matches_by_text_then_by_its_source_document_then_by_id() -> None:
    dataset = trace_edges.Dataset("sha256:x", frozenset({member_hash(CATS)}), frozenset({"d1"}))

    assert dataset.match(Document(member_hash(CATS), "other")) == "content"
    assert dataset.match(Document(member_hash("a chunk"), "n9", ref_doc_id="d1")) == "ref_doc_id"
    assert dataset.match(Document(None, "d1")) == "id"
    # Recorded text that the dataset does not hold never matches by id alone: the same
    # id may name an edited document.
    assert dataset.match(Document(member_hash("edited"), "d1")) is None


def test_message_texts_reads_semconv_parts_and_skips_cut_values() -> None:
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": "Answer from: " + CATS}]},
        {"role": "user", "parts": [{"type": "text", "content": "How long?"}]},
    ]
    assert message_texts(messages) == ["Answer from: " + CATS, "How long?"]
    tool = {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "c1", "response": {"docs": [CATS, 3]}},
    ]}  # fmt: skip
    assert message_texts([tool]) == [CATS]
    assert message_texts("plain") == ["plain"]
    assert message_texts({"tracetape.truncated": True, "head": "x"}) == []
