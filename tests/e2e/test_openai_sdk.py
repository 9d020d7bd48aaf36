"""The raw ``openai`` SDK, called inside LangGraph nodes, recorded into a real tape.

USERS.md item 1: "provider calls made inside a node (a raw OpenAI client) are not traced
at all". Real ``openai`` clients talk HTTP to a scripted server on 127.0.0.1; what the
tape holds is asserted with SQL on the ``spans`` view.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypedDict

import openai
import pytest
from langgraph.graph import END, START, StateGraph
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

import tracetape
from tests.fakes.openai_server import (
    DEFAULT_FINGERPRINT,
    DEFAULT_RESPONSE_MODEL,
    TEST_API_KEY,
    OpenAIServer,
    Reply,
    ToolCall,
    chunks,
    error,
)
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.capture.openai import instrument_openai, is_instrumented, uninstrument_openai
from tracetape.capture.openai import patch as openai_patch

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
    try:
        yield tape
    finally:
        uninstrument_openai()


@pytest.fixture
def client(openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=openai_server.base_url, api_key=TEST_API_KEY, max_retries=0, timeout=30
    ) as sdk:
        yield sdk


@pytest.fixture
async def aclient(openai_server: OpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=openai_server.base_url, api_key=TEST_API_KEY, max_retries=0, timeout=30
    ) as sdk:
        yield sdk


def rows(tape: Any, where: str = "true") -> list[dict[str, Any]]:
    """Spans (oldest first) with attributes, input and output parsed."""
    frame = tape.sql(
        "select trace_id, span_id, parent_span_id, name, kind, status, status_message, "
        "error_type, model, provider, input_tokens, output_tokens, input, output, attributes "
        f"from spans where {where} order by start_time, span_id"
    )
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in out:
        row["attrs"] = json.loads(row.pop("attributes"))
        for key in ("input", "output"):
            row[key] = json.loads(row[key]) if isinstance(row[key], str) else None
    return out


def blob(tape: Any, digest: str) -> Any:
    frame = tape.sql("select content from blobs where hash = ?", [digest])
    assert len(frame) == 1, f"payload {digest} not stored"
    return json.loads(frame.iloc[0, 0])


def one_node_graph(node: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("ask", node)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(name="asker")


def test_raw_client_in_a_node_records_one_llm_span_under_the_node(recording, openai_server, client):
    openai_server.script(Reply(content="Paris.", prompt_tokens=21, completion_tokens=2))

    def ask(state: State) -> State:
        response = client.chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": state["question"]},
            ],
            temperature=0.2,
            max_tokens=50,
            seed=7,
            response_format={"type": "json_object"},
        )
        return {"answer": response.choices[0].message.content or ""}

    out = one_node_graph(ask).invoke(
        {"question": "Capital of France?"}, config={"callbacks": [recording.langchain()]}
    )
    assert out["answer"] == "Paris."
    recording.flush()

    assert recording.sql("select count(distinct trace_id) from spans").iloc[0, 0] == 1
    (node,) = rows(recording, "kind = 'node'")
    (llm,) = rows(recording, "kind = 'llm'")
    assert node["name"] == "ask"
    assert llm["parent_span_id"] == node["span_id"]
    assert llm["name"] == "chat gpt-4o"

    row = recording.sql(
        "select provider, model, status, input_tokens, output_tokens, "
        "attributes->>'gen_ai.operation.name' as operation, "
        "attributes->>'gen_ai.request.model' as requested, "
        "attributes->>'gen_ai.response.model' as responded, "
        "attributes->>'gen_ai.response.id' as response_id, "
        "attributes->>'tracetape.model.system_fingerprint' as fingerprint, "
        "(attributes->>'gen_ai.request.temperature')::double as temperature, "
        "(attributes->>'gen_ai.request.max_tokens')::int as max_tokens, "
        "(attributes->>'gen_ai.request.seed')::int as seed, "
        "attributes->>'gen_ai.output.type' as output_type, "
        "attributes->'tracetape.model.response_format' as response_format, "
        "attributes->'tracetape.model.invocation_params' as params, "
        "attributes->'gen_ai.response.finish_reasons' as finish_reasons "
        "from spans where kind = 'llm'"
    ).iloc[0]
    assert (row.provider, row.operation, row.status) == ("openai", "chat", "ok")
    assert row.requested == "gpt-4o"
    assert row.responded == DEFAULT_RESPONSE_MODEL == row.model
    assert row.response_id.startswith("chatcmpl-fake")
    assert row.fingerprint == DEFAULT_FINGERPRINT
    assert (row.temperature, row.max_tokens, row.seed) == (0.2, 50, 7)
    assert json.loads(row.response_format) == {"type": "json_object"}
    assert row.output_type == "json"
    params = json.loads(row.params)
    sent = openai_server.requests[0]
    assert {k: params[k] for k in ("model", "temperature", "max_tokens", "seed")} == {
        k: sent[k] for k in ("model", "temperature", "max_tokens", "seed")
    }
    assert "messages" not in params
    assert json.loads(row.finish_reasons) == ["stop"]
    assert (row.input_tokens, row.output_tokens) == (21, 2)

    assert llm["input"] == [
        {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]},
    ]
    assert llm["output"] == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Paris."}],
            "finish_reason": "stop",
        }
    ]
    # The request and the response are kept whole for replay, once per content.
    attrs = llm["attrs"]
    assert attrs["tracetape.replay.format"] == "openai.chat.completions"
    assert [blob(recording, h) for h in attrs["tracetape.replay.input"]] == sent["messages"]
    request = blob(recording, attrs["tracetape.replay.request"])
    assert request["response_format"] == {"type": "json_object"}
    (output_hash,) = attrs["tracetape.replay.output"]
    replayed = ChatCompletion.model_validate(blob(recording, output_hash))
    assert replayed.choices[0].message.content == "Paris."
    assert "tracetape.replayable" not in attrs


async def test_async_client_in_an_async_node(recording, openai_server, aclient):
    openai_server.script(Reply(content="first"), Reply(content="second", completion_tokens=3))

    async def ask(state: State) -> State:
        messages: list[Any] = [{"role": "user", "content": state["question"]}]
        first = await aclient.chat.completions.create(model="gpt-4o-mini", messages=messages)
        messages.append(first.choices[0].message)  # an SDK model, passed back as is
        messages.append({"role": "user", "content": "again"})
        second = await aclient.chat.completions.create(model="gpt-4o-mini", messages=messages)
        return {"answer": second.choices[0].message.content or ""}

    out = await one_node_graph(ask).ainvoke(
        {"question": "q"}, config={"callbacks": [recording.langchain()]}
    )
    assert out["answer"] == "second"
    recording.flush()

    (node,) = rows(recording, "kind = 'node'")
    first, second = rows(recording, "kind = 'llm'")
    assert first["parent_span_id"] == second["parent_span_id"] == node["span_id"]
    assert first["trace_id"] == second["trace_id"] == node["trace_id"]
    assert second["output_tokens"] == 3
    assert [m["role"] for m in second["input"]] == ["user", "assistant", "user"]
    assert second["input"][1]["parts"] == [{"type": "text", "content": "first"}]
    # The repeated first message is stored once and referenced by both spans.
    assert (
        second["attrs"]["tracetape.replay.input"][0] == first["attrs"]["tracetape.replay.input"][0]
    )


def test_streaming_with_usage_passes_chunks_through_and_records_tokens(
    recording, openai_server, client
):
    reply = Reply(content="streamed answer", prompt_tokens=5, completion_tokens=4)
    openai_server.script(reply)

    def ask(state: State) -> State:
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": state["question"]}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert isinstance(stream, openai.Stream)
        received = list(stream)
        # Every chunk reaches the caller exactly as the server sent it.
        sent = list(chunks(reply, received[0].id, include_usage=True))
        assert [c.to_dict(mode="json") for c in received] == sent
        text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
        return {"answer": text}

    out = one_node_graph(ask).invoke(
        {"question": "go"}, config={"callbacks": [recording.langchain()]}
    )
    assert out["answer"] == "streamed answer"
    recording.flush()

    (node,) = rows(recording, "kind = 'node'")
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["parent_span_id"] == node["span_id"]
    assert llm["status"] == "ok"
    assert (llm["input_tokens"], llm["output_tokens"]) == (5, 4)  # USERS.md 6
    attrs = llm["attrs"]
    assert attrs["tracetape.model.streamed"] is True
    assert attrs["tracetape.model.time_to_first_token_ms"] >= 0
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.response.id"].startswith("chatcmpl-fake")
    assert llm["model"] == DEFAULT_RESPONSE_MODEL
    assert llm["output"][0]["parts"] == [{"type": "text", "content": "streamed answer"}]
    # Kept for replay as the completion a plain call would have returned.
    completion = ChatCompletion.model_validate(blob(recording, attrs["tracetape.replay.output"][0]))
    assert completion.choices[0].message.content == "streamed answer"
    assert completion.usage is not None and completion.usage.completion_tokens == 4


async def test_async_streaming_in_an_async_node(recording, openai_server, aclient):
    openai_server.script(Reply(content="async stream", completion_tokens=2))

    async def ask(state: State) -> State:
        stream = await aclient.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": state["question"]}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert isinstance(stream, openai.AsyncStream)
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        return {"answer": "".join(parts)}

    out = await one_node_graph(ask).ainvoke(
        {"question": "go"}, config={"callbacks": [recording.langchain()]}
    )
    assert out["answer"] == "async stream"
    recording.flush()
    (node,) = rows(recording, "kind = 'node'")
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["parent_span_id"] == node["span_id"]
    assert (llm["status"], llm["output_tokens"]) == ("ok", 2)
    assert llm["output"][0]["parts"][0]["content"] == "async stream"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_definitions_and_requested_tool_calls(recording, openai_server, client, stream):
    openai_server.script(
        Reply(
            tool_calls=(
                ToolCall("add", {"a": 1, "b": 2}, "call_add"),
                ToolCall("add", {"a": 3, "b": 4}, "call_add2"),
            )
        ),
        Reply(content="3 and 7"),
    )
    messages: list[Any] = [{"role": "user", "content": "add 1+2 and 3+4"}]
    first = client.chat.completions.create(
        model="gpt-4o", messages=messages, tools=[ADD_TOOL], tool_choice="auto", stream=stream
    )
    if stream:
        list(first)
        calls = [
            {"id": "call_add", "type": "function", "function": {"name": "add", "arguments": ""}}
        ]
        assistant: Any = {"role": "assistant", "content": None, "tool_calls": calls}
    else:
        assistant = first.choices[0].message
    messages += [
        assistant,
        {"role": "tool", "tool_call_id": "call_add", "content": "3"},
    ]
    client.chat.completions.create(model="gpt-4o", messages=messages, tools=[ADD_TOOL])
    recording.flush()

    first_span, second_span = rows(recording, "kind = 'llm'")
    assert first_span["attrs"]["gen_ai.tool.definitions"] == [ADD_TOOL]
    assert openai_server.requests[0]["tools"] == [ADD_TOOL]
    assert first_span["attrs"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert first_span["output"] == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_add",
                    "name": "add",
                    "arguments": {"a": 1, "b": 2},
                },
                {
                    "type": "tool_call",
                    "id": "call_add2",
                    "name": "add",
                    "arguments": {"a": 3, "b": 4},
                },
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert second_span["input"][2] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_add", "response": "3"}],
    }
    assert second_span["input"][1]["parts"][0]["type"] == "tool_call"


def test_http_error_marks_the_span_and_reaches_the_user_unchanged(recording, openai_server, client):
    openai_server.script(error(500, "upstream exploded", code="boom"))

    def ask(state: State) -> State:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": state["question"]}]
        )
        return {}

    with pytest.raises(openai.InternalServerError) as caught:
        one_node_graph(ask).invoke({"question": "q"}, config={"callbacks": [recording.langchain()]})
    assert caught.value.status_code == 500
    assert "upstream exploded" in str(caught.value)
    recording.flush()

    (node,) = rows(recording, "kind = 'node'")
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["parent_span_id"] == node["span_id"]
    assert llm["status"] == "error"
    assert llm["error_type"] == "openai.InternalServerError"
    assert "upstream exploded" in llm["status_message"]
    assert llm["attrs"]["http.response.status_code"] == 500
    assert llm["attrs"]["tracetape.model.error_code"] == "boom"
    assert llm["input"][0]["parts"][0]["content"] == "q"
    assert llm["output"] is None


class _BrokenStreamServer:
    """Streams one chunk, then an SSE error event (the SDK raises ``APIError``)."""

    def __init__(self) -> None:
        first = next(iter(chunks(Reply(content="partial"), "chatcmpl-broken", False)))
        second = list(chunks(Reply(content="partial"), "chatcmpl-broken", False))[1]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                failure = {"error": {"message": "overloaded mid-stream", "type": "server_error"}}
                for event in (first, second, failure):
                    self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def test_error_mid_stream_records_an_error_span_with_what_arrived(recording):
    server = _BrokenStreamServer()
    try:
        with openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk:
            stream = sdk.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True
            )
            received: list[Any] = []
            with pytest.raises(openai.APIError, match="overloaded mid-stream"):
                for chunk in stream:
                    received.append(chunk)
            assert len(received) == 2
    finally:
        server.stop()
    recording.flush()
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["status"] == "error"
    assert llm["error_type"] == "openai.APIError"
    assert llm["output"][0]["parts"] == [{"type": "text", "content": "part"}]
    assert llm["attrs"]["tracetape.replayable"] is False


def test_stream_left_early_ends_the_span_as_incomplete(recording, openai_server, client):
    openai_server.script(Reply(content="a long streamed answer"), Reply(content="closed"))
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    stream.close()
    with client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True
    ) as second:
        next(second)
    recording.flush()

    broke, closed = rows(recording, "kind = 'llm'")
    for span in (broke, closed):
        assert span["status"] == "unset"
        assert span["attrs"]["tracetape.incomplete"] is True
        assert span["attrs"]["tracetape.replayable"] is False
    assert broke["output"][0]["parts"] == [{"type": "text", "content": "a lo"}]


async def test_async_stream_closed_by_its_context_manager(recording, openai_server, aclient):
    openai_server.script(Reply(content="a long async answer"))
    stream = await aclient.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True
    )
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
    recording.flush()
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["attrs"]["tracetape.incomplete"] is True
    assert llm["output"][0]["parts"] == [{"type": "text", "content": "a lo"}]


def test_parse_with_a_pydantic_response_format(recording, openai_server, client):
    openai_server.script(Reply(content='{"value": 3}'))
    completion = client.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "1+2"}], response_format=Answer
    )
    assert completion.choices[0].message.parsed == Answer(value=3)
    recording.flush()
    (llm,) = rows(recording, "kind = 'llm'")
    sent = openai_server.requests[0]["response_format"]
    recorded = llm["attrs"]["tracetape.model.response_format"]
    assert recorded["type"] == sent["type"] == "json_schema"
    assert recorded["json_schema"]["name"] == sent["json_schema"]["name"] == "Answer"
    assert llm["attrs"]["gen_ai.output.type"] == "json"
    assert llm["output"][0]["parts"][0]["content"] == '{"value": 3}'


def test_chat_openai_while_instrumented_records_one_llm_span(tape, openai_server):
    tracetape.instrument(tape)
    instrument_openai(tape.recorder)
    try:
        openai_server.script(Reply(content="once"), Reply(content="streamed once"))
        model = openai_server.chat_model("gpt-4o", stream_usage=True)
        assert model.invoke("hi").content == "once"
        assert "".join(str(c.content) for c in model.stream("hi")) == "streamed once"

        async def both() -> None:
            openai_server.script(Reply(content="async once"), Reply(content="astream once"))
            assert (await model.ainvoke("hi")).content == "async once"
            assert "".join([str(c.content) async for c in model.astream("hi")]) == "astream once"

        asyncio.run(both())
    finally:
        uninstrument_openai()
        tracetape.uninstrument()
    tape.flush()
    spans = rows(tape, "kind = 'llm'")
    assert len(spans) == 4
    assert all(s["attrs"]["tracetape.model.class"].endswith("ChatOpenAI") for s in spans)


def test_chat_openai_without_langchain_capture_is_recorded_by_the_sdk_wrapper(
    recording, openai_server
):
    openai_server.script(Reply(content="via sdk"))
    assert openai_server.chat_model("gpt-4o").invoke("hi").content == "via sdk"
    recording.flush()
    (span,) = rows(recording, "kind = 'llm'")
    assert span["attrs"]["tracetape.model.class"] == "openai.OpenAI"
    assert span["output"][0]["parts"][0]["content"] == "via sdk"


def test_after_uninstrument_nothing_is_recorded(tape, openai_server, client):
    instrument_openai(tape.recorder)
    instrument_openai(tape.recorder)  # idempotent
    assert is_instrumented()
    uninstrument_openai()
    uninstrument_openai()
    assert not is_instrumented()
    openai_server.script(Reply(content="plain"), Reply(content="plain stream"))
    response = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}]
    )
    assert type(response) is ChatCompletion
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True
    )
    assert type(stream) is openai.Stream
    list(stream)
    assert tape.flush() == 0
    assert tape.sql("select count(*) from spans").iloc[0, 0] == 0
    # The wrappers stay installed, once, and call straight through.
    from openai.resources.chat.completions import Completions

    create = Completions.create
    assert create.__tracetape_original__.__name__ == "create"  # type: ignore[attr-defined]
    assert create.__wrapped__ is create.__tracetape_original__  # type: ignore[attr-defined]


def test_with_raw_response_records_the_parsed_response(recording, openai_server, client):
    openai_server.script(Reply(content="raw"), Reply(content="raw stream"))
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}]
    )
    assert raw.headers["content-type"] == "application/json"
    assert raw.parse().choices[0].message.content == "raw"
    raw_stream = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in raw_stream.parse()) == "raw stream"
    recording.flush()
    parsed, streamed = rows(recording, "kind = 'llm'")
    assert parsed["output"][0]["parts"][0]["content"] == "raw"
    assert parsed["attrs"]["gen_ai.usage.output_tokens"] == 7
    # A raw stream is read by the user later: the request is recorded, not the response.
    assert streamed["status"] == "ok"
    assert streamed["input"][0]["parts"][0]["content"] == "q"
    assert streamed["output"] is None
    assert streamed["attrs"]["tracetape.replayable"] is False


def test_stream_helper_and_one_shot_message_iterables(recording, openai_server, client):
    openai_server.script(Reply(content="helper"), Reply(content="gen"))
    with client.chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}]
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "helper"
    messages = ({"role": "user", "content": text} for text in ("one", "two"))
    client.chat.completions.create(model="gpt-4o", messages=messages)
    assert [m["content"] for m in openai_server.requests[1]["messages"]] == ["one", "two"]
    recording.flush()
    helper, generated = rows(recording, "kind = 'llm'")
    assert helper["output"][0]["parts"][0]["content"] == "helper"
    assert helper["status"] == "ok"
    assert [m["parts"][0]["content"] for m in generated["input"]] == ["one", "two"]


def test_user_span_is_the_parent(recording, openai_server, client):
    openai_server.script(Reply(content="x"))
    with tracetape.span("my-step"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "q"}])
    recording.flush()
    (step,) = rows(recording, "name = 'my-step'")
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["parent_span_id"] == step["span_id"]


def test_without_content_capture_metrics_stay(tmp_path: Path, openai_server, client):
    tape = tracetape.open(tmp_path / "quiet.duckdb", capture_content=False)
    instrument_openai(tape.recorder)
    try:
        openai_server.script(Reply(content="secret answer", completion_tokens=9))
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "secret question"}]
        )
        tape.flush()
        (llm,) = rows(tape, "kind = 'llm'")
    finally:
        uninstrument_openai()
        tape.close()
    assert (llm["output_tokens"], llm["model"]) == (9, DEFAULT_RESPONSE_MODEL)
    assert llm["input"] is None and llm["output"] is None
    assert llm["attrs"]["tracetape.replayable"] is False
    assert "secret" not in json.dumps(llm["attrs"])


def test_api_key_never_reaches_the_tape(recording, openai_server, client, tmp_path: Path):
    openai_server.script(
        Reply(content=f"your key is {TEST_API_KEY}"),
        error(401, f"Incorrect API key provided: {TEST_API_KEY}", code="invalid_api_key"),
    )
    client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": f"my key is {TEST_API_KEY}"}],
        extra_headers={"Authorization": f"Bearer {TEST_API_KEY}"},
    )
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "again"}]
        )
    assert recording.flush() == 2
    recording.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert TEST_API_KEY.encode() not in path.read_bytes(), path


def test_a_failing_extractor_costs_attributes_not_the_call(
    recording, openai_server, client, monkeypatch
):
    from tracetape import _safety

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("extractor bug")

    monkeypatch.setattr("tracetape.capture.openai.request.param_attributes", broken)
    _safety.set_strict(False)
    openai_server.script(Reply(content="still works"))
    response = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "q"}]
    )
    assert response.choices[0].message.content == "still works"
    recording.flush()
    (llm,) = rows(recording, "kind = 'llm'")
    assert llm["status"] == "ok"
    assert "gen_ai.request.model" not in llm["attrs"]
    assert llm["output"][0]["parts"][0]["content"] == "still works"
    assert openai_patch.is_instrumented()


def test_concurrent_async_calls_keep_their_own_spans(recording, openai_server):
    openai_server.script(*(Reply(content=f"r{i}") for i in range(4)))

    async def main() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=openai_server.base_url, api_key=TEST_API_KEY, max_retries=0
        ) as sdk:

            async def one(i: int) -> str:
                with tracetape.span(f"task-{i}"):
                    r = await sdk.chat.completions.create(
                        model="gpt-4o", messages=[{"role": "user", "content": f"q{i}"}]
                    )
                    return r.choices[0].message.content or ""

            return await asyncio.gather(*(one(i) for i in range(4)))

    assert sorted(asyncio.run(main())) == ["r0", "r1", "r2", "r3"]
    recording.flush()
    tasks = {r["span_id"]: r["name"] for r in rows(recording, "name like 'task-%'")}
    for llm in rows(recording, "kind = 'llm'"):
        question = llm["input"][0]["parts"][0]["content"]
        assert tasks[llm["parent_span_id"]] == f"task-{question[1:]}"
