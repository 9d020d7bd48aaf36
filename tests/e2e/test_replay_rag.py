"""Replay of a retrieval chain: documents come from the tape unless the retriever is live."""

from __future__ import annotations

from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from tests.fakes import rag
from tests.fakes.openai_server import Reply
from tests.fakes.openai_server import openai_server as openai_server


def chain(store: Any, model: Any) -> Any:
    retriever = store.as_retriever(search_kwargs={"k": 2})
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from: {context}"), ("human", "{question}")]
    )

    def join(docs: list[Any]) -> str:
        return " | ".join(d.page_content for d in docs)

    return (
        {"context": retriever | join, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )


def test_documents_are_played_back_even_from_an_empty_store(tape, openai_server):
    openai_server.script(Reply(content="Sixteen hours."))
    recorded = chain(rag.store(), openai_server.chat_model()).invoke(
        "How long do cats sleep?", config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    empty = rag.ScoredInMemoryVectorStore(rag.embeddings())

    replay = tape.replay(trace_id, app=chain(empty, openai_server.chat_model()))

    assert replay.output == recorded == "Sixteen hours."
    assert openai_server.request_count == 1
    tape.flush()
    docs = tape.sql(
        "select attributes->>'tracetape.retriever.document_count' as n from spans "
        "where trace_id = ? and kind = 'retriever'",
        [replay.trace_id],
    )
    assert docs.n.tolist() == ["2"]


def test_a_live_retriever_searches_the_store_given(tape, openai_server):
    openai_server.script(Reply(content="Sixteen hours."))
    chain(rag.store(), openai_server.chat_model()).invoke(
        "How long do cats sleep?", config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    empty = rag.ScoredInMemoryVectorStore(rag.embeddings())
    openai_server.script(Reply(content="I do not know."))

    replay = tape.replay(
        trace_id,
        app=chain(empty, openai_server.chat_model()),
        live=("retriever",),
        on_divergence="live",
    )

    # No documents: the prompt differs, so the model call diverges and goes live.
    assert [d.kind for d in replay.divergences] == ["llm"]
    assert replay.output == "I do not know."
    assert openai_server.requests[-1]["messages"][0]["content"] == "Answer from: "
