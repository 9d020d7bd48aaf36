"""Retrieval-augmented chains over InMemoryVectorStore, recorded into a real tape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pandas as pd
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

import tracetape
from tests.fakes import rag
from tests.fakes.models import ToolCallingFakeModel, script

QUESTION = "How long do cats sleep?"


def format_docs(docs: list[Document]) -> str:
    return "\n".join(d.page_content for d in docs)


def rag_chain(retriever: Any) -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer from this context only:\n{context}"),
            ("human", "{question}"),
        ]
    )
    model = ToolCallingFakeModel(messages=script(AIMessage(content="Sixteen hours.")))
    return (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )


def one(tape: Any, query: str, params: list[Any] | None = None) -> dict[str, Any]:
    frame = tape.sql(query, params)
    assert len(frame) == 1, frame
    return frame.iloc[0].to_dict()


def spans_of(tape: Any, kind: str) -> Any:
    return tape.sql(
        "select span_id, parent_span_id, trace_id, name, model, input, output, attributes "
        "from spans where kind = ? order by start_time",
        [kind],
    )


def check_rag_trace(tape: Any, search_type: str = "similarity") -> None:
    """Every span of one RAG chain run, with the attributes the issue asks for."""
    assert tape.sql("select count(distinct trace_id) from spans").iloc[0, 0] == 1
    retriever = one(
        tape,
        "select span_id, input, output, "
        "attributes->>'tracetape.retriever.class' as cls, "
        "attributes->>'tracetape.retriever.vector_store' as store, "
        "attributes->>'tracetape.retriever.search_type' as search_type, "
        "attributes->>'tracetape.retriever.embedding_model' as embedding_model, "
        "(attributes->'tracetape.retriever.search_kwargs'->>'k')::INT as k, "
        "(attributes->>'tracetape.retriever.k')::INT as top_k, "
        "(attributes->>'tracetape.retriever.document_count')::INT as n_docs "
        "from spans where kind = 'retriever'",
    )
    assert retriever["cls"] == "langchain_core.vectorstores.base.VectorStoreRetriever"
    assert retriever["store"] == "tests.fakes.rag.ScoredInMemoryVectorStore"
    assert retriever["search_type"] == search_type
    assert (
        retriever["embedding_model"] == "langchain_core.embeddings.fake.DeterministicFakeEmbedding"
    )
    assert (retriever["k"], retriever["top_k"], retriever["n_docs"]) == (2, 2, 2)
    assert json.loads(retriever["input"]) == QUESTION
    documents = json.loads(retriever["output"])
    assert [d["id"] for d in documents] == [
        d.id for d in rag.store().similarity_search(QUESTION, k=2)
    ]
    assert all(d["metadata"]["topic"] and d["content"] for d in documents)

    # The retriever's query embedding is one span, nested under the retriever span.
    embedding = one(
        tape,
        "select parent_span_id, model, "
        "(attributes->>'tracetape.embedding.input_count')::INT as n, "
        "(attributes->>'gen_ai.embeddings.dimension.count')::INT as dims, "
        "attributes->>'tracetape.model.class' as cls "
        "from spans where kind = 'embedding'",
    )
    assert embedding["parent_span_id"] == retriever["span_id"]
    assert (embedding["model"], embedding["n"], embedding["dims"]) == (
        "DeterministicFakeEmbedding",
        1,
        rag.DIMENSIONS,
    )
    assert embedding["cls"] == "langchain_core.embeddings.fake.DeterministicFakeEmbedding"

    # The prompt saw the retrieved context and the question, and rendered both.
    prompt = one(
        tape,
        "select input, output, attributes->>'tracetape.prompt.hash' as hash, "
        "attributes->'tracetape.prompt.input_variables' as variables "
        "from spans where kind = 'prompt'",
    )
    values = json.loads(prompt["input"])
    assert values["question"] == QUESTION
    assert values["context"] == "\n".join(d["content"] for d in documents)
    assert json.loads(prompt["variables"]) == ["context", "question"]
    rendered = json.loads(prompt["output"])
    assert [m["role"] for m in rendered] == ["system", "user"]
    assert documents[0]["content"] in rendered[0]["parts"][0]["content"]
    assert prompt["hash"].startswith("sha256:")

    llm = one(tape, "select output from spans where kind = 'llm'")
    assert "Sixteen hours." in json.dumps(json.loads(llm["output"]))

    # The retriever hangs somewhere under the chain's root span, as does the prompt.
    roots = tape.sql("select span_id from spans where parent_span_id is null")
    assert len(roots) == 1
    ancestors = tape.sql(
        "with recursive up(span_id, parent_span_id, kind) as ("
        "  select span_id, parent_span_id, kind from spans where kind = 'embedding' "
        "  union all select s.span_id, s.parent_span_id, s.kind from spans s "
        "  join up on s.span_id = up.parent_span_id) select kind from up"
    )
    assert list(ancestors.kind)[:2] == ["embedding", "retriever"]
    assert list(ancestors.kind)[-1] == "chain"


def test_rag_chain_records_prompt_retriever_embedding_and_model(tape):
    store = rag.store()  # the index is built before anything records
    chain = rag_chain(store.as_retriever(search_kwargs={"k": 2}))
    answer = chain.invoke(QUESTION, config={"callbacks": [tape.langchain()]})
    assert answer == "Sixteen hours."
    tape.flush()
    check_rag_trace(tape)


def test_rag_chain_async(tape):
    store = rag.store()
    chain = rag_chain(store.as_retriever(search_kwargs={"k": 2}))
    answer = asyncio.run(chain.ainvoke(QUESTION, config={"callbacks": [tape.langchain()]}))
    assert answer == "Sixteen hours."
    tape.flush()
    check_rag_trace(tape)
    # aembed_query runs embed_query in an executor: still one span, named for the outer call.
    methods = tape.sql(
        "select attributes->>'tracetape.embedding.method' m from spans where kind = 'embedding'"
    )
    assert list(methods.m) == ["aembed_query"]


def recent_2020(doc: Document) -> bool:
    return doc.metadata["year"] >= 2020


SEARCHES = [
    pytest.param(
        "similarity",
        {"k": 3, "filter": recent_2020},
        {"k": 3, "filter": {"callable": f"{__name__}.recent_2020"}},
        "score",
        id="similarity",
    ),
    pytest.param(
        "mmr",
        {"k": 2, "fetch_k": 4, "lambda_mult": 0.25},
        {"k": 2, "fetch_k": 4, "lambda_mult": 0.25},
        None,
        id="mmr",
    ),
    pytest.param(
        "similarity_score_threshold",
        {"k": 4, "score_threshold": 0.45},
        {"k": 4, "score_threshold": 0.45},
        "relevance_score",
        id="similarity_score_threshold",
    ),
]


def expected_documents(store: Any, search_type: str, kwargs: dict[str, Any]) -> list[Document]:
    """What the retriever returns, computed without tracing."""
    return store.as_retriever(search_type=search_type, search_kwargs=kwargs).invoke(QUESTION)


@pytest.mark.parametrize("search_type, kwargs, recorded_kwargs, score_key", SEARCHES)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_search_types_record_configuration_documents_and_scores(
    tape, search_type, kwargs, recorded_kwargs, score_key, mode
):
    store = rag.store()
    expected = expected_documents(store, search_type, kwargs)
    assert expected, "the fixture data must return documents for every search type"
    retriever = store.as_retriever(search_type=search_type, search_kwargs=kwargs)
    config = {"callbacks": [tape.langchain()]}
    if mode == "sync":
        docs = retriever.invoke(QUESTION, config=config)
    else:
        docs = asyncio.run(retriever.ainvoke(QUESTION, config=config))
    assert [d.id for d in docs] == [d.id for d in expected]
    tape.flush()

    span = one(
        tape,
        "select span_id, output, attributes->>'tracetape.retriever.search_type' as search_type, "
        "attributes->'tracetape.retriever.search_kwargs' as kwargs, "
        "attributes->'tracetape.retriever.document_ids' as ids, "
        "attributes->'tracetape.retriever.scores' as scores "
        "from spans where kind = 'retriever'",
    )
    assert span["search_type"] == search_type
    assert json.loads(span["kwargs"]) == recorded_kwargs
    assert json.loads(span["ids"]) == [d.id for d in expected]
    documents = json.loads(span["output"])
    assert [d["metadata"] for d in documents] == [d.metadata for d in expected]

    if score_key is None:
        # MMR re-ranks without exposing a score through any public method.
        assert all("score" not in d and "relevance_score" not in d for d in documents)
        assert pd.isna(span["scores"])
    else:
        with_scores = (
            store.similarity_search_with_relevance_scores(QUESTION, **kwargs)
            if score_key == "relevance_score"
            else store.similarity_search_with_score(QUESTION, **kwargs)
        )
        want = [round(score, 9) for _, score in with_scores]
        assert [round(d[score_key], 9) for d in documents] == want
        assert [round(s, 9) for s in json.loads(span["scores"])] == want
    if search_type == "similarity_score_threshold":
        assert all(d["relevance_score"] >= 0.45 for d in documents)
    if search_type == "similarity":
        assert all(d["metadata"]["year"] >= 2020 for d in documents)

    embeddings = spans_of(tape, "embedding")
    assert list(embeddings.parent_span_id) == [span["span_id"]]


def test_instrumented_records_index_building_and_stops_on_uninstrument(tape):
    tracetape.instrument(tape)
    store = rag.ScoredInMemoryVectorStore(rag.embeddings())
    with tracetape.span("build-index"):
        store.add_documents(rag.documents())
    docs = store.as_retriever(search_kwargs={"k": 2}).invoke(QUESTION)  # no callbacks passed
    assert len(docs) == 2
    tracetape.uninstrument()
    store.add_documents([Document(page_content="Owls hunt at night.", id="doc-owls")])
    store.as_retriever().invoke(QUESTION)
    tape.flush()

    user = one(tape, "select span_id from spans where name = 'build-index'")
    rows = tape.sql(
        "select e.parent_span_id, p.kind as parent_kind, "
        "(e.attributes->>'tracetape.embedding.input_count')::INT as n, "
        "e.attributes->>'tracetape.embedding.method' as method, "
        "(e.attributes->>'gen_ai.embeddings.dimension.count')::INT as dims "
        "from spans e left join spans p on e.parent_span_id = p.span_id "
        "where e.kind = 'embedding' order by e.start_time"
    )
    # Index building nests under the user's span; the query under the retriever; nothing
    # after uninstrument().
    assert list(rows.parent_kind) == ["chain", "retriever"]
    assert rows.parent_span_id[0] == user["span_id"]
    assert list(rows.n) == [len(rag.TEXTS), 1]
    assert list(rows.method) == ["embed_documents", "embed_query"]
    assert set(rows.dims) == {rag.DIMENSIONS}
    assert tape.sql("select count(*) from spans where kind = 'retriever'").iloc[0, 0] == 1


class SuperCallingEmbedding(DeterministicFakeEmbedding):
    """An override that calls the (also wrapped) parent method."""

    def embed_query(self, text: str) -> list[float]:
        return super().embed_query(text.lower())


def test_nested_wrapped_calls_record_one_span_each(tape):
    tracetape.instrument(tape)
    model = SuperCallingEmbedding(size=rag.DIMENSIONS)
    model.embed_query("Hello")
    vectors = asyncio.run(model.aembed_documents(["a", "b", "c"]))
    assert len(vectors) == 3
    tape.flush()
    rows = tape.sql(
        "select attributes->>'tracetape.embedding.method' as method, "
        "(attributes->>'tracetape.embedding.input_count')::INT as n, parent_span_id "
        "from spans where kind = 'embedding' order by start_time"
    )
    assert list(rows.method) == ["embed_query", "aembed_documents"]
    assert list(rows.n) == [1, 3]
    assert rows.parent_span_id.isna().all()


class BrokenEmbedding(DeterministicFakeEmbedding):
    def embed_query(self, text: str) -> list[float]:
        raise RuntimeError("embedding service down")


def test_failed_embedding_is_an_error_span_under_the_failed_retriever(tape):
    store = rag.ScoredInMemoryVectorStore(BrokenEmbedding(size=rag.DIMENSIONS))
    with pytest.raises(RuntimeError, match="embedding service down"):
        store.as_retriever().invoke(QUESTION, config={"callbacks": [tape.langchain()]})
    tape.flush()
    rows = tape.sql(
        "select e.status, e.error_type, p.kind as parent_kind, p.status as parent_status "
        "from spans e join spans p on e.parent_span_id = p.span_id where e.kind = 'embedding'"
    )
    assert rows.to_dict("records") == [
        {
            "status": "error",
            "error_type": "RuntimeError",
            "parent_kind": "retriever",
            "parent_status": "error",
        }
    ]
