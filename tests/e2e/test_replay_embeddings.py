"""Replay of an agent that embeds text itself: vectors come from the tape.

A LangGraph node embeds the question with the real ``OpenAIEmbeddings`` client (against
the loopback OpenAI-compatible server) and picks the nearest policy by hand, outside any
retriever; the model then answers. Recording keeps the texts and vectors whole; a replay
answers the embedding call from the tape, so no provider is contacted.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, TypedDict

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from pydantic import Field

import tracetape
from tests.fakes import llamaindex as llama_fakes
from tests.fakes.openai_server import TEST_API_KEY, Reply, vector
from tests.fakes.openai_server import openai_server as openai_server
from tracetape import ReplayDivergence
from tracetape.capture.openai.embeddings import response_body
from tracetape.spans.vectors import unpack

POLICIES = {
    "refunds": "Refunds reach the original card within 5-7 business days.",
    "shipping": "Orders ship within two days with ACME Freight.",
}


class State(TypedDict, total=False):
    question: str
    policy: str
    answer: str


def nearest_policy(asked: list[float]) -> str:
    """The policy whose (fake server) embedding is nearest ``asked`` by cosine."""

    def cosine(text: str) -> float:
        v = vector(json.dumps(text))
        dot = sum(a * b for a, b in zip(asked, v, strict=True))
        return dot / (math.hypot(*asked) * math.hypot(*v))

    return max(POLICIES.values(), key=cosine)


def policy_graph(name: str, embed: Any, answer: Any) -> Any:
    """embed (the question, picking a policy) -> answer (with that policy)."""
    graph = StateGraph(State)
    graph.add_node("embed", embed)
    graph.add_node("answer", answer)
    graph.add_edge(START, "embed")
    graph.add_edge("embed", "answer")
    graph.add_edge("answer", END)
    return graph.compile(name=name)


def agent(server: Any, prefix: str = "") -> Any:
    """LangChain's OpenAIEmbeddings and ChatOpenAI, the policy picked without a
    retriever (``prefix``: what a changed app puts before the question it embeds)."""
    embeddings = server.embeddings_model()
    model = server.chat_model()

    def embed(state: State) -> State:
        return {"policy": nearest_policy(embeddings.embed_query(prefix + state["question"]))}

    def answer(state: State) -> State:
        reply = model.invoke(
            [SystemMessage(f"Policy: {state['policy']}"), HumanMessage(state["question"])]
        )
        return {"answer": str(reply.content)}

    return policy_graph("policy_agent", embed, answer)


QUESTION = {"question": "When do I get my money back?"}


def _record(tape: Any, server: Any) -> tuple[str, Any]:
    server.script(Reply(content="Within 5-7 business days."))
    recorded = agent(server).invoke(QUESTION, config={"callbacks": [tape.langchain()]})
    tape.flush()
    return str(tape.traces().trace_id[0]), recorded


def test_the_embedding_call_is_recorded_with_its_vectors(tape, openai_server):
    trace_id, _ = _record(tape, openai_server)

    spans = tape.sql(
        "select s.attributes->>'tracetape.embedding.method' as method, "
        "s.attributes->>'gen_ai.request.model' as model, "
        "s.attributes->>'gen_ai.embeddings.dimension.count' as dims, "
        "s.attributes->>'tracetape.replay.output' as kept, p.name as parent "
        "from spans s left join (select span_id, name from spans) p "
        "on p.span_id = s.parent_span_id where s.trace_id = ? and s.kind = 'embedding'",
        [trace_id],
    )
    assert spans.method.tolist() == ["embed_query"]
    assert spans.model.tolist() == ["text-embedding-3-small"]
    assert spans.dims.tolist() == ["8"]
    assert spans.parent.tolist() == ["embed"]  # under the LangGraph node that made it
    digest = json.loads(spans.kept[0])[0]
    stored = tape.sql("select content::varchar as c from blobs where hash = ?", [digest])
    assert unpack(json.loads(stored.c[0])) == vector(json.dumps(QUESTION["question"]))


def test_playback_answers_the_embedding_from_the_tape(tape, openai_server):
    trace_id, recorded = _record(tape, openai_server)
    assert openai_server.request_count == 2  # the embedding, then the model

    replay = tape.replay(trace_id, app=agent(openai_server))

    assert openai_server.request_count == 2  # no provider contacted
    assert replay.output == recorded
    assert replay.divergences == []
    assert (replay.from_tape, replay.ran_live) == (2, 0)
    kinds = tape.sql(
        "select kind from spans where trace_id = ? and kind in ('embedding', 'llm') "
        "order by start_time",
        [replay.trace_id],
    )
    assert kinds.kind.tolist() == ["embedding", "llm"]


def test_a_changed_embedded_text_diverges_at_the_embedding(tape, openai_server):
    trace_id, _ = _record(tape, openai_server)

    with pytest.raises(ReplayDivergence) as raised:
        tape.replay(trace_id, app=agent(openai_server, prefix="query: "))

    divergence = raised.value.divergence
    assert divergence.kind == "embedding"
    assert "query: When do I get my money back?" in " ".join(divergence.requested)
    assert divergence.recorded == ('embed_query("When do I get my money back?")',)
    assert openai_server.request_count == 2


def test_a_live_embedding_calls_the_provider_again(tape, openai_server):
    trace_id, recorded = _record(tape, openai_server)

    replay = tape.replay(trace_id, app=agent(openai_server), live=("embedding",))

    bodies = openai_server.requests
    assert len(bodies) == 3
    assert (
        bodies[-1]["input"] == [QUESTION["question"]]
        or bodies[-1]["input"] == (QUESTION["question"])
    )
    assert replay.output == recorded  # the same vector, so the same policy and answer
    assert replay.ran_live == 1


# -- embeddings elsewhere: in tools, async, in a LlamaIndex app or from LlamaIndex ----------


class CountingEmbeddings(DeterministicFakeEmbedding):
    """LangChain's deterministic fake, counting the calls that reach it."""

    calls: list[str] = Field(default_factory=list)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(f"documents:{len(texts)}")
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls.append("query")
        return super().embed_query(text)


class Searched(TypedDict, total=False):
    question: str
    found: Any


def searching_agent(embeddings: Any) -> Any:
    """One node calling a tool whose body embeds the question."""

    @tool
    def search(question: str) -> str:
        """Search by meaning."""
        return str(round(embeddings.embed_query(question)[0], 6))

    def node(state: Searched) -> Searched:
        return {"found": search.invoke({"question": state["question"]})}

    graph = StateGraph(Searched)
    graph.add_node("search_node", node)
    graph.add_edge(START, "search_node")
    graph.add_edge("search_node", END)
    return graph.compile(name="searching_agent")


def _recorded(tape: Any, app: Any, state: Any) -> tuple[str, Any]:
    output = app.invoke(state, config={"callbacks": [tape.langchain()]})
    tape.flush()
    return str(tape.traces().trace_id[0]), output


@pytest.mark.parametrize("live", [(), ("search",)], ids=["tool-from-tape", "tool-live"])
def test_an_embedding_inside_a_tool(tape, live):
    embeddings = CountingEmbeddings(size=4)
    trace_id, recorded = _recorded(tape, searching_agent(embeddings), {"question": "cats"})
    embeddings.calls.clear()

    replay = tape.replay(trace_id, app=searching_agent(embeddings), live=live)

    # Answered from the tape either way: with the tool, or inside the tool run for real.
    assert embeddings.calls == []
    assert replay.output == recorded
    assert replay.divergences == []


def test_async_embedding_calls_are_answered_from_the_tape(tape):
    embeddings = CountingEmbeddings(size=4)

    def app() -> Any:
        async def node(state: Searched) -> Searched:
            query = await embeddings.aembed_query(state["question"])
            documents = await embeddings.aembed_documents([state["question"], "dogs"])
            return {"found": [query, documents]}

        graph = StateGraph(Searched)
        graph.add_node("embed", node)
        graph.add_edge(START, "embed")
        graph.add_edge("embed", END)
        return graph.compile(name="async_embedder")

    async def record() -> Any:
        return await app().ainvoke({"question": "cats"}, config={"callbacks": [tape.langchain()]})

    recorded = asyncio.run(record())
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    embeddings.calls.clear()

    replay = asyncio.run(tape.areplay(trace_id, app=app()))

    assert embeddings.calls == []
    assert replay.output == recorded
    assert replay.from_tape == 2


def test_texts_too_long_to_keep_are_embedded_again_in_their_place(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACETAPE_MAX_BLOB_BYTES", "1024")
    tape = tracetape.open(tmp_path / "small.duckdb")
    embeddings = CountingEmbeddings(size=4)

    def app() -> Any:
        def node(state: Searched) -> Searched:
            found = embeddings.embed_documents([state["question"]] * 300)  # > 1024 chars
            asked = embeddings.embed_query(state["question"])  # kept: answered
            return {"found": round(sum(v[0] for v in found) + asked[0], 6)}

        graph = StateGraph(Searched)
        graph.add_node("embed", node)
        graph.add_edge(START, "embed")
        graph.add_edge("embed", END)
        return graph.compile(name="corpus_embedder")

    try:
        trace_id, recorded = _recorded(tape, app(), {"question": "cats"})
        kept = tape.sql(
            "select attributes->>'tracetape.replay.input' as i, "
            "attributes->>'tracetape.replay.output' as o from spans "
            "where trace_id = ? and kind = 'embedding' order by start_time",
            [trace_id],
        )
        assert kept.i.tolist()[0] == "[]"  # its place, not its texts
        assert kept.o.isna().tolist() == [True, False]  # nor its vectors
        embeddings.calls.clear()

        replay = tape.replay(trace_id, app=app())

        # The big one runs in its place; the query after it is answered, not compared
        # with the big one's place (which diverged when the place was dropped).
        assert embeddings.calls == ["documents:300"]
        assert replay.output == recorded
        assert replay.divergences == []
        assert (replay.from_tape, replay.ran_live) == (1, 1)
    finally:
        tape.close()


def test_a_llamaindex_embedding_in_a_node_runs_as_before(tape):
    # LlamaIndex capture keeps a top-level embedding's input; it is not LangChain's, and
    # a LangChain replay lets it run (it did before embedding calls were kept).
    embed = llama_fakes.CountingEmbedding(embed_dim=llama_fakes.DIMENSIONS)

    def app() -> Any:
        def node(state: Searched) -> Searched:
            return {"found": len(embed.get_query_embedding(state["question"]))}

        graph = StateGraph(Searched)
        graph.add_node("embed", node)
        graph.add_edge(START, "embed")
        graph.add_edge("embed", END)
        return graph.compile(name="llama_embedder")

    with llama_fakes.attached(tape.recorder):
        trace_id, recorded = _recorded(tape, app(), {"question": "cats"})
        replay = tape.replay(trace_id, app=app())

    assert replay.output == recorded
    assert replay.divergences == []


def test_a_langchain_embedding_inside_a_llamaindex_app_runs_as_before(tape):
    # Instrumented, a LlamaIndex query engine whose postprocessor embeds with LangChain:
    # the LlamaIndex replay answers LlamaIndex's calls and lets this one run.
    embeddings = CountingEmbeddings(size=4)

    class Rerank(BaseNodePostprocessor):
        def _postprocess_nodes(self, nodes: Any, query_bundle: Any = None) -> Any:
            embeddings.embed_query(query_bundle.query_str)
            return nodes

    index = llama_fakes.index(llama_fakes.CountingEmbedding(embed_dim=llama_fakes.DIMENSIONS))
    llm = llama_fakes.CountingLLM()

    def engine() -> Any:
        return index.as_query_engine(llm=llm, similarity_top_k=2, node_postprocessors=[Rerank()])

    tracetape.instrument(tape)
    try:
        recorded = engine().query("How long do cats sleep?")
        tape.flush()
        trace_id = str(tape.traces().trace_id[0])
        embeddings.calls.clear()

        replay = tape.replay(trace_id, app=engine())
    finally:
        tracetape.uninstrument()

    assert embeddings.calls == ["query"]
    assert str(replay.output) == str(recorded)
    assert replay.divergences == []


# -- the raw openai SDK: client.embeddings.create in a node, recorded when instrumented ----


def sdk_agent(server: Any, prefix: str = "") -> Any:
    """The same with the raw ``openai`` client: both calls over loopback HTTP."""
    import openai

    client = openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0)

    def embed(state: State) -> State:
        response = client.embeddings.create(
            model="text-embedding-3-small", input=[prefix + state["question"]]
        )
        return {"policy": nearest_policy(response.data[0].embedding)}

    def answer(state: State) -> State:
        completion = client.chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "system", "content": f"Policy: {state['policy']}"},
                {"role": "user", "content": state["question"]},
            ],
        )
        return {"answer": str(completion.choices[0].message.content)}

    return policy_graph("sdk_policy_agent", embed, answer)


@pytest.fixture
def instrumented(tape: Any) -> Any:
    tracetape.instrument(tape)
    try:
        yield tape
    finally:
        tracetape.uninstrument()


def _record_sdk(tape: Any, server: Any) -> tuple[str, Any]:
    server.script(Reply(content="Within 5-7 business days."))
    recorded = sdk_agent(server).invoke(QUESTION)
    tape.flush()
    return str(tape.traces().trace_id[0]), recorded


def test_the_sdk_embedding_call_is_recorded(instrumented, openai_server):
    trace_id, _ = _record_sdk(instrumented, openai_server)

    spans = instrumented.sql(
        "select name, attributes->>'tracetape.embedding.method' as method, "
        "attributes->>'gen_ai.embeddings.dimension.count' as dims, "
        "attributes->>'gen_ai.usage.input_tokens' as tokens, "
        "attributes->>'gen_ai.provider.name' as provider, "
        "attributes->>'tracetape.replay.output' as kept "
        "from spans where trace_id = ? and kind = 'embedding'",
        [trace_id],
    )
    assert spans.name.tolist() == ["embeddings text-embedding-3-small"]
    assert spans.method.tolist() == ["openai.embeddings.create"]
    assert (spans.dims[0], spans.tokens[0], spans.provider[0]) == ("8", "1", "openai")
    digest = json.loads(spans.kept[0])[0]
    stored = instrumented.sql("select content::varchar as c from blobs where hash = ?", [digest])
    body = response_body(json.loads(stored.c[0]))
    assert [d["embedding"] for d in body["data"]] == [vector(json.dumps(QUESTION["question"]))]
    assert body["model"] == "text-embedding-3-small"


def test_playback_answers_the_sdk_embedding_at_its_send(instrumented, openai_server):
    trace_id, recorded = _record_sdk(instrumented, openai_server)
    assert openai_server.request_count == 2

    replay = instrumented.replay(trace_id, app=sdk_agent(openai_server))

    assert openai_server.request_count == 2  # no provider contacted
    assert replay.output == recorded
    assert replay.divergences == []
    assert (replay.from_tape, replay.ran_live) == (2, 0)


def test_a_changed_sdk_embedding_request_diverges(instrumented, openai_server):
    trace_id, _ = _record_sdk(instrumented, openai_server)

    with pytest.raises(ReplayDivergence) as raised:
        instrumented.replay(trace_id, app=sdk_agent(openai_server, prefix="query: "))

    divergence = raised.value.divergence
    assert divergence.kind == "embedding"
    assert "query: When do I get my money back?" in " ".join(divergence.requested)
    assert openai_server.request_count == 2


def test_a_live_sdk_embedding_is_sent_again(instrumented, openai_server):
    trace_id, recorded = _record_sdk(instrumented, openai_server)

    replay = instrumented.replay(trace_id, app=sdk_agent(openai_server), live=("embedding",))

    assert [b.get("input") for b in openai_server.requests[2:]] == [[QUESTION["question"]]]
    assert replay.output == recorded
    assert replay.ran_live == 1


def test_langchain_openai_embeddings_record_one_span_and_replay(instrumented, openai_server):
    # OpenAIEmbeddings calls the SDK inside its own recorded call: one span, answered once.
    trace_id, recorded = _record(instrumented, openai_server)
    kinds = instrumented.sql(
        "select attributes->>'tracetape.embedding.method' as method from spans "
        "where trace_id = ? and kind = 'embedding'",
        [trace_id],
    )
    assert kinds.method.tolist() == ["embed_query"]

    replay = instrumented.replay(trace_id, app=agent(openai_server))

    assert openai_server.request_count == 2
    assert replay.output == recorded
    assert replay.divergences == []


def test_async_sdk_embeddings_are_recorded_and_answered(instrumented, openai_server):
    import openai

    client = openai.AsyncOpenAI(base_url=openai_server.base_url, api_key=TEST_API_KEY)

    def app() -> Any:
        async def node(state: Searched) -> Searched:
            response = await client.embeddings.create(
                model="text-embedding-3-small", input=state["question"], dimensions=8
            )
            return {"found": response.data[0].embedding}

        graph = StateGraph(Searched)
        graph.add_node("embed", node)
        graph.add_edge(START, "embed")
        graph.add_edge("embed", END)
        return graph.compile(name="async_sdk_embedder")

    recorded = asyncio.run(app().ainvoke({"question": "cats"}))
    instrumented.flush()
    trace_id = str(instrumented.traces().trace_id[0])

    replay = asyncio.run(instrumented.areplay(trace_id, app=app()))

    assert openai_server.request_count == 1
    assert replay.output == recorded
    assert replay.from_tape == 1


def _one_node(name: str, node: Any) -> Any:
    graph = StateGraph(Searched)
    graph.add_node("embed", node)
    graph.add_edge(START, "embed")
    graph.add_edge("embed", END)
    return graph.compile(name=name)


def _sdk_client(server: Any) -> Any:
    import openai

    return openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0)


@pytest.mark.parametrize("how", ["base64", "raw-response"])
def test_base64_and_raw_sdk_responses_are_kept_and_answered(instrumented, openai_server, how):
    client = _sdk_client(openai_server)

    def node(state: Searched) -> Searched:
        if how == "base64":  # asked for explicitly: the SDK hands back the strings
            response = client.embeddings.create(
                model="text-embedding-3-small", input=state["question"], encoding_format="base64"
            )
        else:
            raw = client.embeddings.with_raw_response.create(
                model="text-embedding-3-small", input=state["question"]
            )
            response = raw.parse()
        return {"found": response.data[0].embedding}

    recorded = _one_node("sdk", node).invoke({"question": "cats"})
    instrumented.flush()
    trace_id = str(instrumented.traces().trace_id[0])

    replay = instrumented.replay(trace_id, app=_one_node("sdk", node))

    assert openai_server.request_count == 1
    assert replay.output == recorded
    assert (replay.from_tape, replay.ran_live) == (1, 0)


def test_a_generator_input_is_recorded_as_sent_and_compared(instrumented, openai_server):
    client = _sdk_client(openai_server)

    def app(tokens: list[int]) -> Any:
        def node(state: Searched) -> Searched:
            response = client.embeddings.create(
                model="text-embedding-3-small", input=(t for t in tokens)
            )
            return {"found": response.data[0].embedding}

        return _one_node("tokens", node)

    recorded = app([1, 2, 3]).invoke({"question": "cats"})
    instrumented.flush()
    trace_id = str(instrumented.traces().trace_id[0])
    assert openai_server.requests[0]["input"] == [1, 2, 3]  # not consumed by recording

    assert instrumented.replay(trace_id, app=app([1, 2, 3])).output == recorded
    with pytest.raises(ReplayDivergence):
        instrumented.replay(trace_id, app=app([4, 5, 6]))
    assert openai_server.request_count == 1


def test_a_replay_without_instrument_records_its_sdk_embeddings(tape, openai_server):
    tracetape.instrument(tape)
    try:
        trace_id, _ = _record_sdk(tape, openai_server)
    finally:
        tracetape.uninstrument()

    replay = tape.replay(trace_id, app=sdk_agent(openai_server))

    assert openai_server.request_count == 2
    spans = tape.sql(
        "select kind from spans where trace_id = ? and kind in ('embedding', 'llm') "
        "order by start_time",
        [replay.trace_id],
    )
    assert spans.kind.tolist() == ["embedding", "llm"]


def test_a_llamaindex_embedding_model_calling_the_sdk_runs_as_before(instrumented, openai_server):
    # Like llama-index's OpenAIEmbedding: the SDK inside a LlamaIndex embedding call, which
    # LlamaIndex's replay does not answer; the SDK call under it is not asked either.
    from llama_index.core.embeddings import BaseEmbedding

    client = _sdk_client(openai_server)

    class SDKEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            response = client.embeddings.create(model="text-embedding-3-small", input=[query])
            return response.data[0].embedding

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_query_embedding(text)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    embed_model = SDKEmbedding()
    lc_embeddings = CountingEmbeddings(size=4)

    def node(state: Searched) -> Searched:
        lc = lc_embeddings.embed_query(state["question"])  # answered from the tape
        return {"found": [lc, embed_model.get_query_embedding(state["question"])]}

    recorded = _one_node("mixed", node).invoke({"question": "cats"})
    instrumented.flush()
    trace_id = str(instrumented.traces().trace_id[0])

    replay = instrumented.replay(trace_id, app=_one_node("mixed", node))

    assert replay.output == recorded
    assert replay.divergences == []
    assert openai_server.request_count == 2  # the LlamaIndex call ran again, as before


def test_an_sdk_input_too_long_to_keep_is_sent_again_in_its_place(
    tmp_path, monkeypatch, openai_server
):
    monkeypatch.setenv("TRACETAPE_MAX_BLOB_BYTES", "1024")
    tape = tracetape.open(tmp_path / "small.duckdb")
    client = _sdk_client(openai_server)

    def node(state: Searched) -> Searched:
        response = client.embeddings.create(
            model="text-embedding-3-small", input=[state["question"]] * 300
        )
        return {"found": len(response.data)}

    tracetape.instrument(tape)
    try:
        recorded = _one_node("corpus", node).invoke({"question": "cats"})
        tape.flush()
        trace_id = str(tape.traces().trace_id[0])
        kept = tape.sql(
            "select attributes->>'tracetape.replay.input' as i from spans "
            "where trace_id = ? and kind = 'embedding'",
            [trace_id],
        )
        assert kept.i.tolist() == ["[]"]

        replay = tape.replay(trace_id, app=_one_node("corpus", node))
    finally:
        tracetape.uninstrument()
        tape.close()

    assert openai_server.request_count == 2
    assert replay.output == recorded
    assert replay.divergences == []
