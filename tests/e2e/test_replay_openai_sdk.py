"""Replay of LangGraph graphs whose nodes call the raw ``openai`` SDK.

Real ``openai.OpenAI`` / ``AsyncOpenAI`` clients talk HTTP to a scripted server on
127.0.0.1 while recording; the replay answers every SDK call from the tape, so the
server's request count stays where recording left it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from typing import Any, TypedDict

import openai
import pytest
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ParsedChatCompletion
from pydantic import BaseModel

from tests.fakes.openai_server import TEST_API_KEY, OpenAIServer, Reply, ToolCall, error
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.capture.openai import instrument_openai, uninstrument_openai
from tracetape.replay import ReplayDivergence

ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
SEEN: list[Any] = []
"""What the SDK handed the node on each call (its return value's type and content)."""


class Answer(BaseModel):
    """The final answer."""

    value: int


class State(TypedDict, total=False):
    question: str
    answer: str


@pytest.fixture
def recording(tape: Any) -> Iterator[Any]:
    """``tape`` with raw SDK calls recorded into it (undone after the test)."""
    instrument_openai(tape.recorder)
    SEEN.clear()
    try:
        yield tape
    finally:
        uninstrument_openai()


def sdk(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0)


def asdk(server: OpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0)


def graph(node: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("ask", node)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(name="asker")


def two_calls(client: openai.OpenAI, system: str = "Answer briefly.") -> Any:
    """A node that asks twice: the second time with a tool and the first answer."""

    def ask(state: State) -> State:
        messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": state["question"]},
        ]
        first = client.chat.completions.create(model="gpt-4o", messages=messages, temperature=0)
        SEEN.append(first)
        messages.append(first.choices[0].message)
        messages.append({"role": "user", "content": "now add 1 and 2"})
        second = client.chat.completions.create(
            model="gpt-4o", messages=messages, tools=[ADD_TOOL], seed=7
        )
        SEEN.append(second)
        call = (second.choices[0].message.tool_calls or [])[0]
        return {"answer": f"{first.choices[0].message.content} {call.function.arguments}"}  # pyright: ignore[reportAttributeAccessIssue]

    return graph(ask)


def script_two(server: OpenAIServer) -> None:
    server.script(
        Reply(content="Paris."),
        Reply(tool_calls=(ToolCall("add", {"a": 1, "b": 2}, "call_1"),)),
    )


def record_two(tape: Any, server: OpenAIServer) -> tuple[str, dict[str, Any]]:
    script_two(server)
    out = two_calls(sdk(server)).invoke(
        {"question": "Capital of France?"}, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    return str(tape.traces().trace_id[0]), out


def test_raw_client_calls_are_answered_from_the_tape(recording, openai_server):
    trace_id, recorded = record_two(recording, openai_server)
    assert openai_server.request_count == 2
    originals = [c.to_dict() for c in SEEN]
    SEEN.clear()

    replay = recording.replay(trace_id, app=two_calls(sdk(openai_server)))

    assert openai_server.request_count == 2  # no request during the replay
    assert replay.output == recorded
    assert (replay.from_tape, replay.ran_live, replay.divergences) == (2, 0, [])
    assert replay.same_output is True
    assert all(type(c) is ChatCompletion for c in SEEN)
    assert [c.to_dict() for c in SEEN] == originals
    recording.flush()
    row = recording.sql(
        "select replay_of, n_llm from traces where trace_id = ?", [replay.trace_id]
    ).to_dict("records")
    assert row == [{"replay_of": trace_id, "n_llm": 2}]


def test_a_changed_system_message_diverges_at_that_llm_span(recording, openai_server):
    trace_id, _ = record_two(recording, openai_server)

    with pytest.raises(ReplayDivergence) as caught:
        recording.replay(trace_id, app=two_calls(sdk(openai_server), system="Answer at length."))

    divergence = caught.value.divergence
    first = recording.sql(
        "select span_id, name from spans where trace_id = ? and kind = 'llm' "
        "order by start_time limit 1",
        [trace_id],
    ).iloc[0]
    assert (divergence.kind, divergence.position) == ("llm", 0)
    assert (divergence.span_id, divergence.name) == (first.span_id, first["name"])
    assert "-system: Answer briefly." in divergence.diff
    assert "+system: Answer at length." in divergence.diff
    assert openai_server.request_count == 2


def test_live_llm_sends_the_new_request(recording, openai_server):
    trace_id, _ = record_two(recording, openai_server)
    script_two(openai_server)

    replay = recording.replay(
        trace_id, app=two_calls(sdk(openai_server), system="Be terse."), live=("llm",)
    )

    assert openai_server.request_count == 4
    assert openai_server.requests[2]["messages"][0] == {"role": "system", "content": "Be terse."}
    assert (replay.from_tape, replay.ran_live) == (0, 2)
    assert replay.output["answer"] == 'Paris. {"a": 1, "b": 2}'


def test_a_streamed_call_replays_as_a_stream_of_chunks(recording, openai_server):
    def node(client: openai.OpenAI) -> Any:
        def ask(state: State) -> State:
            stream = client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": state["question"]}],
                stream=True,
                stream_options={"include_usage": True},
            )
            assert isinstance(stream, openai.Stream)
            received = list(stream)
            SEEN.append(received)
            text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
            return {"answer": text}

        return graph(ask)

    openai_server.script(Reply(content="a streamed answer", completion_tokens=4))
    recorded = node(sdk(openai_server)).invoke(
        {"question": "go"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])

    replay = recording.replay(trace_id, app=node(sdk(openai_server)))

    assert openai_server.request_count == 1
    assert replay.output == recorded == {"question": "go", "answer": "a streamed answer"}
    chunks = SEEN[-1]
    assert chunks and all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_parse_replays_a_parsed_completion(recording, openai_server):
    def node(client: openai.OpenAI) -> Any:
        def ask(state: State) -> State:
            completion = client.chat.completions.parse(
                model="gpt-4o",
                messages=[{"role": "user", "content": state["question"]}],
                response_format=Answer,
            )
            SEEN.append(completion)
            parsed = completion.choices[0].message.parsed
            return {"answer": str(parsed.value if parsed else None)}

        return graph(ask)

    openai_server.script(Reply(content='{"value": 3}'))
    recorded = node(sdk(openai_server)).invoke(
        {"question": "1+2"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])

    replay = recording.replay(trace_id, app=node(sdk(openai_server)))

    assert openai_server.request_count == 1
    assert replay.output == recorded == {"question": "1+2", "answer": "3"}
    assert isinstance(SEEN[-1], ParsedChatCompletion)
    assert SEEN[-1].choices[0].message.parsed == Answer(value=3)


def test_an_async_graph_with_the_async_client_replays(recording, openai_server):
    def node(client: openai.AsyncOpenAI) -> Any:
        async def ask(state: State) -> State:
            first = await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": state["question"]}]
            )
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "and again"}],
                stream=True,
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return {"answer": f"{first.choices[0].message.content} / {text}"}

        return graph(ask)

    openai_server.script(Reply(content="one"), Reply(content="two"))

    async def run() -> tuple[Any, Any]:
        recorded = await node(asdk(openai_server)).ainvoke(
            {"question": "q"}, config={"callbacks": [recording.langchain()]}
        )
        recording.flush()
        trace_id = str(recording.traces().trace_id[0])
        return recorded, await recording.areplay(trace_id, app=node(asdk(openai_server)))

    recorded, replay = asyncio.run(run())

    assert openai_server.request_count == 2
    assert replay.output == recorded == {"question": "q", "answer": "one / two"}
    assert (replay.from_tape, replay.ran_live) == (2, 0)


def test_without_instrument_the_replay_records_its_sdk_calls_itself(recording, openai_server):
    trace_id, recorded = record_two(recording, openai_server)
    uninstrument_openai()  # as on the command line: only the replay records

    replay = recording.replay(trace_id, app=two_calls(sdk(openai_server)))

    assert openai_server.request_count == 2
    assert replay.output == recorded
    recording.flush()

    def calls(trace: str) -> list[tuple[Any, ...]]:
        frame = recording.sql(
            "select name, status, attributes->'tracetape.replay.input' as sent, "
            "attributes->'tracetape.replay.output' as answer, "
            "(select kind from spans p where p.span_id = s.parent_span_id) as parent "
            "from spans s where trace_id = ? and kind = 'llm' order by start_time",
            [trace],
        )
        return [tuple(row) for row in frame.itertuples(index=False)]

    assert len(calls(trace_id)) == 2
    assert calls(replay.trace_id) == calls(trace_id)
    assert calls(replay.trace_id)[0][:2] == ("chat gpt-4o", "ok")
    assert calls(replay.trace_id)[0][4] == "node"


def test_a_recorded_http_error_is_raised_again_as_the_sdk_s_own(recording, openai_server):
    def node(client: openai.OpenAI) -> Any:
        def ask(state: State) -> State:
            try:
                client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": state["question"]}]
                )
            except openai.RateLimitError as exc:
                SEEN.append(exc)
                return {"answer": f"rate limited ({exc.status_code})"}
            return {"answer": "answered"}

        return graph(ask)

    openai_server.script(error(429, "slow down", type="rate_limit_exceeded"))
    recorded = node(sdk(openai_server)).invoke(
        {"question": "q"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])

    replay = recording.replay(trace_id, app=node(sdk(openai_server)))

    assert openai_server.request_count == 1
    assert replay.output == recorded == {"question": "q", "answer": "rate limited (429)"}
    assert isinstance(SEEN[-1], openai.RateLimitError) and len(SEEN) == 2


def test_a_graph_mixing_chat_openai_and_the_raw_client_replays_both(recording, openai_server):
    def app(server: OpenAIServer) -> Any:
        model = server.chat_model()
        client = sdk(server)

        def draft(state: State) -> State:
            return {"answer": str(model.invoke(state["question"]).content)}

        def polish(state: State) -> State:
            with client.chat.completions.stream(
                model="gpt-4o", messages=[{"role": "user", "content": f"Polish: {state['answer']}"}]
            ) as stream:
                final = stream.get_final_completion()
            return {"answer": final.choices[0].message.content or ""}

        builder = StateGraph(State)
        builder.add_node("draft", draft)
        builder.add_node("polish", polish)
        builder.add_edge(START, "draft")
        builder.add_edge("draft", "polish")
        builder.add_edge("polish", END)
        return builder.compile(name="mixed")

    openai_server.script(Reply(content="paris"), Reply(content="Paris."))
    recorded = app(openai_server).invoke(
        {"question": "Capital of France?"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])
    assert recorded["answer"] == "Paris."

    replay = recording.replay(trace_id, app=app(openai_server))

    assert openai_server.request_count == 2
    assert replay.output == recorded
    assert (replay.from_tape, replay.ran_live, replay.divergences) == (2, 0, [])


def test_a_tool_answered_from_the_tape_skips_the_sdk_call_in_its_body(recording, openai_server):
    client = sdk(openai_server)

    @tool
    def summarise(text: str) -> str:
        """Summarise a text."""
        SEEN.append(text)
        answer = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"Summarise: {text}"}]
        )
        return answer.choices[0].message.content or ""

    def ask(state: State) -> State:
        return {"answer": summarise.invoke({"text": state["question"]})}

    openai_server.script(Reply(content="short"), Reply(content="brief"))
    recorded = graph(ask).invoke(
        {"question": "long"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])

    replay = recording.replay(trace_id, app=graph(ask))  # the tool answers; its body never runs

    assert replay.output == recorded == {"question": "long", "answer": "short"}
    assert (SEEN, openai_server.request_count, replay.divergences) == (["long"], 1, [])

    live = recording.replay(trace_id, app=graph(ask), live=("summarise",))  # its body runs

    assert live.output == recorded and SEEN == ["long", "long"]
    assert openai_server.request_count == 1  # the body's SDK call is answered from the tape
    assert (live.from_tape, live.ran_live) == (1, 1)


def test_with_raw_response_replays_the_recorded_body(recording, openai_server):
    def node(client: openai.OpenAI) -> Any:
        def ask(state: State) -> State:
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": state["question"]}]
            )
            SEEN.append(raw.http_response.status_code)
            return {"answer": raw.parse().choices[0].message.content or ""}

        return graph(ask)

    openai_server.script(Reply(content="raw answer"))
    recorded = node(sdk(openai_server)).invoke(
        {"question": "q"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])

    replay = recording.replay(trace_id, app=node(sdk(openai_server)))

    assert openai_server.request_count == 1
    assert replay.output == recorded == {"question": "q", "answer": "raw answer"}
    assert SEEN == [200, 200]


def test_concurrent_async_calls_get_their_own_recorded_answers(recording, openai_server):
    def node(client: openai.AsyncOpenAI) -> Any:
        async def one(topic: str) -> str:
            answer = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"About {topic}"}]
            )
            return f"{topic}={answer.choices[0].message.content}"

        async def ask(state: State) -> State:
            answers = await asyncio.gather(*(one(t) for t in ("a", "b", "c")))
            return {"answer": ",".join(answers)}

        return graph(ask)

    openai_server.script(Reply(content="1"), Reply(content="2"), Reply(content="3"))

    async def run() -> tuple[Any, Any]:
        recorded = await node(asdk(openai_server)).ainvoke(
            {"question": "q"}, config={"callbacks": [recording.langchain()]}
        )
        recording.flush()
        trace_id = str(recording.traces().trace_id[0])
        return recorded, await recording.areplay(trace_id, app=node(asdk(openai_server)))

    recorded, replay = asyncio.run(run())

    assert openai_server.request_count == 3
    assert replay.output == recorded  # each request its own recorded answer
    assert {part.split("=")[1] for part in recorded["answer"].split(",")} == {"1", "2", "3"}
    assert (replay.from_tape, replay.divergences) == (3, [])


def test_a_method_bound_before_replay_wrapped_it_is_still_answered(recording, openai_server):
    from openai.resources.chat.completions import Completions

    def unwrapped(function: Any) -> Any:
        while hasattr(function, "__wrapped__"):
            function = function.__wrapped__
        return function

    def node(client: openai.OpenAI, early: bool = False) -> Any:
        # Recorded through the client as usual; replayed through the SDK's own method,
        # as if bound before replay (or capture) wrapped it.
        create = client.chat.completions.create
        if early:
            create = functools.partial(unwrapped(Completions.create), client.chat.completions)

        def ask(state: State) -> State:
            answer = create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
            return {"answer": answer.choices[0].message.content or ""}

        return graph(ask)

    openai_server.script(Reply(content="hello"))
    recorded = node(sdk(openai_server)).invoke(
        {"question": "q"}, config={"callbacks": [recording.langchain()]}
    )
    recording.flush()
    trace_id = str(recording.traces().trace_id[0])

    replay = recording.replay(trace_id, app=node(sdk(openai_server), early=True))

    assert openai_server.request_count == 1  # answered at the transport, by its body
    assert replay.output == recorded == {"question": "q", "answer": "hello"}
    assert replay.from_tape == 1
