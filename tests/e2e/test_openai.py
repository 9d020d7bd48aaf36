"""ChatOpenAI over real HTTP (a scripted server on 127.0.0.1), recorded into a real tape.

Everything an llm span must hold (DESIGN.md, "What a span records") is asserted with SQL
on the ``spans`` view, against what the real ``openai`` client parsed from real responses.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from tests.fakes.openai_server import (
    DEFAULT_FINGERPRINT,
    DEFAULT_RESPONSE_MODEL,
    OpenAIServer,
    Reply,
    ToolCall,
    error,
)
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.spans.outcome import provider_error_attributes


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


class Answer(BaseModel):
    """The final answer."""

    value: int


def llm_rows(tape: Any) -> list[dict[str, Any]]:
    """Every llm span, oldest first, with its attributes parsed."""
    frame = tape.sql(
        "select name, status, status_message, error_type, model, provider, duration_ms, "
        "input_tokens, output_tokens, input, output, attributes "
        "from spans where kind = 'llm' order by start_time, span_id"
    )
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        row["attrs"] = json.loads(row.pop("attributes"))
        for key in ("input", "output"):
            row[key] = json.loads(row[key]) if isinstance(row[key], str) else None
    return rows


def test_plain_invoke_records_request_response_and_version_signals(tape, openai_server):
    openai_server.script(Reply(content="Paris.", prompt_tokens=21, completion_tokens=2))
    model = openai_server.chat_model("gpt-4o", temperature=0.2, max_tokens=50, seed=7)

    out = model.invoke(
        [SystemMessage("Answer briefly."), HumanMessage("Capital of France?")],
        config={"callbacks": [tape.langchain()]},
    )
    assert out.content == "Paris."
    assert tape.flush() == 1
    assert openai_server.request_count == 1
    sent = openai_server.requests[0]
    assert sent["model"] == "gpt-4o"

    row = tape.sql(
        "select provider, model, status, duration_ms, input_tokens, output_tokens, "
        "attributes->>'gen_ai.operation.name' as operation, "
        "attributes->>'gen_ai.request.model' as requested, "
        "attributes->>'gen_ai.response.model' as responded, "
        "attributes->>'gen_ai.response.id' as response_id, "
        "attributes->>'tracetape.model.system_fingerprint' as fingerprint, "
        "attributes->>'tracetape.model.class' as model_class, "
        "(attributes->>'gen_ai.request.temperature')::double as temperature, "
        "(attributes->>'gen_ai.request.max_tokens')::int as max_tokens, "
        "(attributes->>'gen_ai.request.seed')::int as seed, "
        "attributes->'tracetape.model.invocation_params' as params, "
        "attributes->'gen_ai.response.finish_reasons' as finish_reasons "
        "from spans where kind = 'llm'"
    ).iloc[0]
    assert row.provider == "openai"
    assert row.operation == "chat"
    assert row.requested == "gpt-4o"
    assert row.responded == DEFAULT_RESPONSE_MODEL == row.model  # the column shows what answered
    assert row.response_id.startswith("chatcmpl-fake")
    assert row.fingerprint == DEFAULT_FINGERPRINT
    assert row.model_class.endswith("ChatOpenAI")
    assert (row.temperature, row.max_tokens, row.seed) == (0.2, 50, 7)
    params = json.loads(row.params)
    assert params["model"] == "gpt-4o"
    # What was recorded as sent is what the server received.
    for key in ("temperature", "seed", "max_completion_tokens"):
        assert params[key] == sent[key]
    assert json.loads(row.finish_reasons) == ["stop"]
    assert (row.input_tokens, row.output_tokens) == (21, 2)
    assert row.status == "ok"
    assert row.duration_ms is not None and row.duration_ms >= 0

    (span,) = llm_rows(tape)
    assert span["input"] == [
        {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]},
    ]
    assert [m["content"] for m in sent["messages"]] == ["Answer briefly.", "Capital of France?"]
    assert span["output"] == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Paris."}],
            "finish_reason": "stop",
        }
    ]


def test_bound_tools_and_parallel_tool_calls(tape, openai_server):
    openai_server.script(
        Reply(
            tool_calls=(
                ToolCall("add", {"a": 1, "b": 2}, "call_add"),
                ToolCall("shout", {"text": "hi"}, "call_shout"),
            )
        )
    )
    model = openai_server.chat_model().bind_tools([add, shout])

    out = model.invoke("add 1 and 2, shout hi", config={"callbacks": [tape.langchain()]})
    assert [c["id"] for c in out.tool_calls] == ["call_add", "call_shout"]
    tape.flush()

    sent_tools = openai_server.requests[0]["tools"]
    assert [t["function"]["name"] for t in sent_tools] == ["add", "shout"]
    (span,) = llm_rows(tape)
    definitions = span["attrs"]["gen_ai.tool.definitions"]
    assert definitions == sent_tools  # exactly the tool schemas sent on the wire
    assert definitions[0]["function"]["description"] == "Add two integers."
    assert span["attrs"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert span["output"] == [
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
                    "id": "call_shout",
                    "name": "shout",
                    "arguments": {"text": "hi"},
                },
            ],
            "finish_reason": "tool_calls",
        }
    ]
    # Tools are recorded once, as definitions, not again inside the invocation params.
    assert "tools" not in span["attrs"]["tracetape.model.invocation_params"]


def test_streaming_records_usage_tool_calls_and_first_token(tape, openai_server):
    openai_server.script(
        Reply(
            content="Let me add those.",
            tool_calls=(
                ToolCall("add", {"a": 40, "b": 2}, "call_1"),
                ToolCall("add", {"a": 1, "b": 1}, "call_2"),
            ),
            prompt_tokens=30,
            completion_tokens=12,
        )
    )
    model = openai_server.chat_model().bind_tools([add])

    chunks = list(model.stream("add", stream_usage=True, config={"callbacks": [tape.langchain()]}))
    assert len(chunks) > 3
    tape.flush()

    sent = openai_server.requests[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    (span,) = llm_rows(tape)
    attrs = span["attrs"]
    assert attrs["tracetape.model.streamed"] is True
    assert attrs["tracetape.model.time_to_first_token_ms"] >= 0
    # USERS.md 6: token usage recorded when streaming.
    assert (span["input_tokens"], span["output_tokens"]) == (30, 12)
    assert attrs["gen_ai.response.model"] == DEFAULT_RESPONSE_MODEL
    assert attrs["tracetape.model.system_fingerprint"] == DEFAULT_FINGERPRINT
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    # A LangChain-made message id is not passed off as the provider's response id.
    assert "gen_ai.response.id" not in attrs
    (message,) = span["output"]
    assert message["role"] == "assistant"
    assert message["parts"][0] == {"type": "text", "content": "Let me add those."}
    assert [(p["id"], p["arguments"]) for p in message["parts"][1:]] == [
        ("call_1", {"a": 40, "b": 2}),
        ("call_2", {"a": 1, "b": 1}),
    ]


def test_streaming_without_usage_records_no_invented_counts(tape, openai_server):
    openai_server.script(Reply(content="no usage sent"))
    model = openai_server.chat_model(streaming=True)  # custom base_url: usage is off

    assert model.invoke("hi", config={"callbacks": [tape.langchain()]}).content == "no usage sent"
    tape.flush()

    assert "stream_options" not in openai_server.requests[0]
    (span,) = llm_rows(tape)
    assert span["attrs"]["tracetape.model.streamed"] is True
    assert span["input_tokens"] is None and span["output_tokens"] is None
    assert span["output"][0]["parts"] == [{"type": "text", "content": "no usage sent"}]


def test_streaming_model_invoked_with_usage_records_tokens(tape, openai_server):
    openai_server.script(Reply(content="counted", prompt_tokens=5, completion_tokens=1))
    model = openai_server.chat_model(streaming=True, stream_usage=True)

    model.invoke("hi", config={"callbacks": [tape.langchain()]})
    tape.flush()

    (span,) = llm_rows(tape)
    assert (span["input_tokens"], span["output_tokens"]) == (5, 1)


async def test_async_calls_each_get_their_own_span(tape, openai_server):
    openai_server.script(*(Reply(content=f"answer {i}", prompt_tokens=10 + i) for i in range(3)))
    openai_server.script(Reply(content="streamed async", completion_tokens=3))
    model = openai_server.chat_model(stream_usage=True)
    config = {"callbacks": [tape.langchain()]}

    answers = await asyncio.gather(*(model.ainvoke(f"q{i}", config=config) for i in range(3)))
    assert sorted(a.content for a in answers) == ["answer 0", "answer 1", "answer 2"]
    streamed = [chunk async for chunk in model.astream("s", config=config)]
    assert "".join(str(c.content) for c in streamed) == "streamed async"
    tape.flush()

    rows = llm_rows(tape)
    assert len(rows) == 4
    assert len({r["attrs"]["tracetape.langchain.run_id"] for r in rows}) == 4
    # Each span pairs its own request with its own response (no cross-talk under gather):
    # the server answered the k-th request to arrive with "answer k".
    answered = {
        r["messages"][0]["content"]: f"answer {k}" for k, r in enumerate(openai_server.requests[:3])
    }
    for row in rows[:3]:
        question = row["input"][0]["parts"][0]["content"]
        assert row["output"][0]["parts"][0]["content"] == answered[question]
    assert rows[3]["attrs"]["tracetape.model.streamed"] is True
    assert rows[3]["output"][0]["parts"][0]["content"] == "streamed async"
    assert sorted(r["input_tokens"] for r in rows) == [10, 11, 11, 12]
    assert {r["status"] for r in rows} == {"ok"}
    assert {r["provider"] for r in rows} == {"openai"}


def test_with_structured_output_records_response_format(tape, openai_server):
    openai_server.script(Reply(content='{"value": 3}'))
    model = openai_server.chat_model().with_structured_output(Answer)

    assert model.invoke("1+2?", config={"callbacks": [tape.langchain()]}) == Answer(value=3)
    tape.flush()

    sent = openai_server.requests[0]["response_format"]
    (span,) = llm_rows(tape)
    attrs = span["attrs"]
    assert attrs["gen_ai.output.type"] == "json"
    recorded = attrs["tracetape.model.response_format"]
    assert recorded["type"] == sent["type"] == "json_schema"
    assert recorded["json_schema"]["name"] == sent["json_schema"]["name"] == "Answer"
    assert (
        recorded["json_schema"]["schema"]["properties"]
        == sent["json_schema"]["schema"]["properties"]
    )
    params = attrs["tracetape.model.invocation_params"]
    assert params["response_format"]["json_schema"]["name"] == "Answer"  # not a class repr


def test_structured_output_by_function_calling_records_the_schema_tool(tape, openai_server):
    openai_server.script(Reply(tool_calls=(ToolCall("Answer", {"value": 4}, "call_a"),)))
    model = openai_server.chat_model().with_structured_output(Answer, method="function_calling")

    assert model.invoke("2+2?", config={"callbacks": [tape.langchain()]}) == Answer(value=4)
    tape.flush()

    (span,) = llm_rows(tape)
    attrs = span["attrs"]
    assert [d["function"]["name"] for d in attrs["gen_ai.tool.definitions"]] == ["Answer"]
    assert attrs["tracetape.model.invocation_params"]["tool_choice"]["function"]["name"] == "Answer"


def test_structured_output_by_function_calling_records_response_format(tape, openai_server):
    openai_server.script(Reply(tool_calls=(ToolCall("Answer", {"value": 4}, "call_a"),)))
    model = openai_server.chat_model().with_structured_output(Answer, method="function_calling")
    model.invoke("2+2?", config={"callbacks": [tape.langchain()]})
    tape.flush()
    (span,) = llm_rows(tape)
    assert span["attrs"]["gen_ai.output.type"] == "json"
    assert "Answer" in json.dumps(span["attrs"]["tracetape.model.response_format"])


def _react_agent(model: Any) -> Any:
    from langchain.agents import create_agent

    return create_agent(model, [add, shout])


def test_agent_over_http_links_calls_tools_and_usage(tape, openai_server):
    openai_server.script(
        Reply(
            tool_calls=(
                ToolCall("add", {"a": 1, "b": 2}, "call_add"),
                ToolCall("shout", {"text": "three"}, "call_shout"),
            ),
            prompt_tokens=50,
            completion_tokens=20,
        ),
        Reply(content="3 and THREE", prompt_tokens=90, completion_tokens=5),
    )
    agent = _react_agent(openai_server.chat_model(temperature=0))

    out = agent.invoke(
        {"messages": [("user", "add 1 and 2, and shout three")]},
        config={"callbacks": [tape.langchain()]},
    )
    assert out["messages"][-1].content == "3 and THREE"
    tape.flush()

    assert openai_server.request_count == 2
    second = openai_server.requests[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool", "tool"]

    trace = tape.traces().iloc[0]
    assert (trace.n_llm, trace.n_tool, trace.n_errors) == (2, 2, 0)
    assert (trace.input_tokens, trace.output_tokens) == (140, 25)

    rows = llm_rows(tape)
    assert [r["model"] for r in rows] == [DEFAULT_RESPONSE_MODEL] * 2
    assert [r["attrs"]["gen_ai.request.model"] for r in rows] == ["gpt-4o"] * 2
    # The second call's input holds both tool results, joined to the requests by id.
    responses = [
        p for m in rows[1]["input"] for p in m["parts"] if p["type"] == "tool_call_response"
    ]
    assert {(p["id"], p["response"]) for p in responses} == {
        ("call_add", "3"),
        ("call_shout", "THREE"),
    }
    tools = tape.sql(
        "select tool_name, attributes->>'gen_ai.tool.call.id' as call_id from spans "
        "where kind = 'tool' order by tool_name"
    )
    assert list(tools.call_id) == ["call_add", "call_shout"]
    requested = [p["id"] for p in rows[0]["output"][0]["parts"]]
    assert requested == ["call_add", "call_shout"]


@pytest.mark.parametrize(
    ("reply", "exc_type", "status"),
    [
        (error(500, "upstream exploded"), openai.InternalServerError, 500),
        (
            error(400, "temperature too hot", type="invalid_request_error", code="invalid_value"),
            openai.BadRequestError,
            400,
        ),
    ],
)
def test_http_errors_mark_the_span_and_reach_the_user_unchanged(
    tape, openai_server, caplog, reply, exc_type, status
):
    openai_server.script(reply, reply)
    model = openai_server.chat_model()

    with pytest.raises(exc_type) as untraced:
        model.invoke("hi")
    with caplog.at_level(logging.WARNING, logger="tracetape"), pytest.raises(exc_type) as traced:
        model.invoke("hi", config={"callbacks": [tape.langchain()]})
    assert type(traced.value) is type(untraced.value)
    assert str(traced.value) == str(untraced.value)
    assert traced.value.status_code == status
    assert not caplog.records  # tracetape had nothing to complain about
    tape.flush()

    (span,) = llm_rows(tape)
    assert span["status"] == "error"
    assert (
        span["error_type"] == f"{type(traced.value).__module__}.{type(traced.value).__qualname__}"
    )
    assert reply.error_message in span["status_message"]
    assert span["attrs"]["gen_ai.request.model"] == "gpt-4o"
    assert span["input"][0]["parts"][0]["content"] == "hi"
    assert span["output"] is None
    assert tape.traces().iloc[0].n_errors == 1


def test_error_attributes_read_the_provider_error(openai_server):
    openai_server.script(
        Reply(
            status=429,
            error_message="slow down",
            error_type="requests",
            error_code="rate_limit_exceeded",
            headers={"x-request-id": "req_abc123"},
        )
    )
    with pytest.raises(openai.RateLimitError) as caught:
        openai_server.chat_model().invoke("hi")

    assert provider_error_attributes(caught.value) == {
        "http.response.status_code": 429,
        "tracetape.model.error_code": "rate_limit_exceeded",
        "tracetape.model.request_id": "req_abc123",
    }


def test_error_span_records_http_status(tape, openai_server):
    openai_server.script(error(503, "overloaded"))
    with pytest.raises(openai.InternalServerError):
        openai_server.chat_model().invoke("hi", config={"callbacks": [tape.langchain()]})
    tape.flush()
    (span,) = llm_rows(tape)
    assert span["attrs"]["http.response.status_code"] == 503


def test_client_retries_stay_inside_one_llm_span(tape, openai_server):
    retry_now = {"x-should-retry": "true", "retry-after-ms": "1"}
    openai_server.script(
        Reply(status=500, error_message="flaky", headers=retry_now),
        Reply(content="second time lucky"),
    )
    model = openai_server.chat_model(max_retries=1)

    out = model.invoke("hi", config={"callbacks": [tape.langchain()]})
    assert out.content == "second time lucky"
    tape.flush()

    assert openai_server.request_count == 2
    (span,) = llm_rows(tape)
    assert span["status"] == "ok"
    assert span["output"][0]["parts"][0]["content"] == "second time lucky"


def test_server_is_reusable_and_counts_requests(openai_server: OpenAIServer):
    assert openai_server.request_count == 0
    openai_server.script(Reply(content="one"))
    model = openai_server.chat_model()
    assert model.invoke("x").content == "one"
    with pytest.raises(openai.InternalServerError, match="script exhausted"):
        model.invoke("y")
    assert openai_server.request_count == 2
    assert openai_server.remaining == 0
    assert openai_server.request_headers[0]["authorization"].startswith("Bearer sk-test-")
