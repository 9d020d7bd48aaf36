"""``tape.rerun``: one recorded model call sent again, byte for byte, to a real ChatOpenAI
over loopback HTTP; the request bodies the server received are compared."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.e2e.test_replay import QUESTION, add, agent, record
from tests.fakes.openai_server import TEST_API_KEY, Reply, ToolCall
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.errors import NotFoundError
from tracetape.replay import NotReplayableError, Rerun


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    """The rebuilt model takes its key from the environment, as a user's would."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)


def llm_spans(tape: Any, trace_id: str) -> list[str]:
    frame = tape.sql(
        "select span_id from spans where trace_id = ? and kind = 'llm' order by start_time",
        [trace_id],
    )
    return list(frame.span_id)


def test_rerun_sends_the_recorded_request_again(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    second = llm_spans(tape, trace_id)[1]  # after the parallel tool calls: 5 messages
    openai_server.script(Reply(tool_calls=(ToolCall("add", {"a": 3, "b": 4}, "call_new"),)))

    result = tape.rerun(second)

    assert isinstance(result, Rerun)
    assert openai_server.request_count == 4
    assert openai_server.requests[3] == openai_server.requests[1]
    assert len(openai_server.requests[3]["messages"]) == 5
    assert openai_server.request_headers[3]["authorization"] == f"Bearer {TEST_API_KEY}"
    assert result.n == 1 and result.n_same == 1  # same call, another call id
    assert result.outputs[0].tool_calls[0]["args"] == {"a": 3, "b": 4}
    assert result.recorded.tool_calls[0]["id"] == "call_add2"
    tape.flush()
    linked = tape.sql(
        "select trace_id, kind, attributes->>'tracetape.rerun_of' as rerun_of from spans "
        "where trace_id = ?",
        [result.trace_ids[0]],
    )
    assert linked.to_dict("records") == [
        {"trace_id": result.trace_ids[0], "kind": "llm", "rerun_of": second}
    ]


def test_the_secret_comes_from_the_environment_never_the_tape(tape, openai_server, monkeypatch):
    trace_id, _ = record(tape, openai_server)
    monkeypatch.delenv("OPENAI_API_KEY")

    with pytest.raises(NotReplayableError, match="OPENAI_API_KEY"):
        tape.rerun(llm_spans(tape, trace_id)[0])

    assert openai_server.request_count == 3
    leaked = tape.sql(
        "select count(*) as n from spans where attributes::varchar like ?", ["%sk-test%"]
    )
    assert leaked.n[0] == 0
    config = tape.sql(
        "select attributes->>'tracetape.model.config' as c from spans where kind = 'llm' limit 1"
    ).c[0]
    assert '"id":["OPENAI_API_KEY"]' in config and '"ChatOpenAI"' in config


def test_rerun_on_another_model(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    openai_server.script(Reply(content="3, THREE and 7"))

    result = tape.rerun(llm_spans(tape, trace_id)[2], model=openai_server.chat_model("gpt-4o-mini"))

    assert openai_server.requests[3] == {**openai_server.requests[2], "model": "gpt-4o-mini"}
    assert result.n_same == 1
    assert result.outputs[0].response_metadata["model_name"] == "gpt-4o-2024-08-06"


def test_overrides_change_params_before_sending(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    openai_server.script(Reply(content="Seven."), Reply(content="Seven."))
    last = llm_spans(tape, trace_id)[2]

    tape.rerun(last, overrides={"temperature": 0.9, "seed": 7})
    tape.rerun(last, model=openai_server.chat_model("gpt-4o-mini"), overrides={"top_p": 0.5})

    assert openai_server.requests[3] == {**openai_server.requests[2], "temperature": 0.9, "seed": 7}
    expected = {**openai_server.requests[2], "model": "gpt-4o-mini", "top_p": 0.5}
    assert openai_server.requests[4] == expected
    tape.flush()
    temperatures = tape.sql(
        "select coalesce(attributes->>'gen_ai.request.temperature', '-') as t from spans "
        "where attributes->>'tracetape.rerun_of' = ? order by start_time",
        [last],
    )
    assert temperatures.t.tolist() == ["0.9", "-"]


def test_n_sends_are_each_recorded_and_linked(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    last = llm_spans(tape, trace_id)[2]
    openai_server.script(
        Reply(content="3, THREE and 7"),
        Reply(content="3, THREE and 8"),
        Reply(content="3, THREE and 7"),
    )

    result = tape.rerun(last, n=3)

    assert (result.n, result.n_same) == (3, 2)
    assert [m.content for m in result.outputs] == [
        "3, THREE and 7",
        "3, THREE and 8",
        "3, THREE and 7",
    ]
    assert len(set(result.trace_ids)) == 3 and trace_id not in result.trace_ids
    assert all(openai_server.requests[i] == openai_server.requests[2] for i in (3, 4, 5))
    tape.flush()
    linked = tape.sql(
        "select trace_id from spans where attributes->>'tracetape.rerun_of' = ?", [last]
    )
    assert sorted(linked.trace_id) == sorted(result.trace_ids)
    traces = tape.sql(
        "select n_llm, n_spans from traces where list_contains(?, trace_id)", [result.trace_ids]
    )
    assert traces.to_dict("records") == [{"n_llm": 1, "n_spans": 1}] * 3
    assert "2 of 3" in str(result)


def test_bound_arguments_are_sent_again(tape, openai_server):
    openai_server.script(Reply(tool_calls=(ToolCall("add", {"a": 1, "b": 2}, "call_1"),)))
    forced = openai_server.chat_model(temperature=0.2).bind_tools([add], tool_choice="add")
    forced.invoke("add 1 and 2", config={"callbacks": [tape.langchain()]}, stop=["\n\n"])
    tape.flush()
    span_id = str(tape.sql("select span_id from spans where kind = 'llm'").span_id[0])
    openai_server.script(Reply(tool_calls=(ToolCall("add", {"a": 1, "b": 2}, "call_2"),)))

    result = tape.rerun(span_id)

    assert openai_server.requests[1] == openai_server.requests[0]
    assert openai_server.requests[0]["tool_choice"]["function"]["name"] == "add"
    assert openai_server.requests[0]["stop"] == ["\n\n"]
    assert openai_server.requests[0]["temperature"] == 0.2
    assert result.n_same == 1


class Sum(BaseModel):
    total: int


def test_a_structured_output_call_is_sent_again(tape, openai_server):
    openai_server.script(Reply(content='{"total": 3}'))
    structured = openai_server.chat_model().with_structured_output(Sum, method="json_schema")
    assert structured.invoke("1 + 2?", config={"callbacks": [tape.langchain()]}) == Sum(total=3)
    tape.flush()
    span_id = str(tape.sql("select span_id from spans where kind = 'llm'").span_id[0])
    openai_server.script(Reply(content='{"total": 3}'))

    result = tape.rerun(span_id)

    sent, recorded = openai_server.requests[1], openai_server.requests[0]
    assert {**sent, "response_format": None} == {**recorded, "response_format": None}
    assert sent["response_format"]["json_schema"]["name"] == "Sum"
    assert result.n_same == 1 and result.recorded.content == '{"total": 3}'


def test_a_structured_output_response_format_is_sent_byte_for_byte(tape, openai_server):
    openai_server.script(Reply(content='{"total": 3}'), Reply(content='{"total": 3}'))
    structured = openai_server.chat_model().with_structured_output(Sum, method="json_schema")
    structured.invoke("1 + 2?", config={"callbacks": [tape.langchain()]})
    tape.flush()

    tape.rerun(str(tape.sql("select span_id from spans where kind = 'llm'").span_id[0]))

    assert openai_server.requests[1] == openai_server.requests[0]


def test_a_streamed_call_is_sent_streamed(tape, openai_server):
    openai_server.script(Reply(content="Hello there."))
    openai_server.chat_model(streaming=True).invoke(
        QUESTION["messages"][0][1], config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    span_id = str(tape.sql("select span_id from spans where kind = 'llm'").span_id[0])
    openai_server.script(Reply(content="Hello there."))

    result = tape.rerun(span_id)

    assert openai_server.requests[1] == openai_server.requests[0]
    assert openai_server.requests[1]["stream"] is True
    assert result.outputs[0].content == "Hello there." and result.n_same == 1


def test_only_recorded_model_calls_rerun(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    tool_span = tape.sql(
        "select span_id from spans where trace_id = ? and kind = 'tool' limit 1", [trace_id]
    ).span_id[0]

    with pytest.raises(NotReplayableError, match="not a chat model call"):
        tape.rerun(tool_span)
    with pytest.raises(NotFoundError):
        tape.rerun("00000000deadbeef")
    with pytest.raises(ValueError, match="n must be"):
        tape.rerun(llm_spans(tape, trace_id)[0], n=0)
    with pytest.raises(TypeError, match="chat model"):
        tape.rerun(llm_spans(tape, trace_id)[0], model=agent(openai_server.chat_model()))
    assert openai_server.request_count == 3


def test_each_rerun_is_on_the_tape_when_it_returns(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    openai_server.script(Reply(content="Seven."), Reply(content="Seven."))

    result = tape.rerun(llm_spans(tape, trace_id)[2], n=2)

    # no tape.flush(): rerun flushed what it recorded
    assert set(result.trace_ids) <= set(tape.traces().trace_id)


def _record_one(tape: Any, model: Any) -> str:
    model.invoke("hello", config={"callbacks": [tape.langchain()]})
    tape.flush()
    return str(tape.sql("select span_id from spans where kind = 'llm'").span_id[0])


def test_a_model_with_a_secret_header_reruns_only_on_a_model_given(tape, openai_server):
    openai_server.script(Reply(content="hi"), Reply(content="hi"))
    secret = "header-secret-value-8080"
    span_id = _record_one(tape, openai_server.chat_model(default_headers={"X-Api-Key": secret}))
    assert openai_server.request_headers[0]["x-api-key"] == secret

    with pytest.raises(NotReplayableError, match="default_headers") as caught:
        tape.rerun(span_id)
    assert "pass model=" in str(caught.value)
    assert openai_server.request_count == 1  # nothing was sent

    mine = openai_server.chat_model(default_headers={"X-Api-Key": "my-own-header"})
    result = tape.rerun(span_id, model=mine)

    assert result.n_same == 1
    assert openai_server.requests[1] == openai_server.requests[0]
    assert openai_server.request_headers[1]["x-api-key"] == "my-own-header"
    assert "[REDACTED]" not in str(openai_server.request_headers[1])


def test_a_base_url_with_credentials_is_not_rebuilt(tape, openai_server):
    openai_server.script(Reply(content="hi"))
    with_userinfo = openai_server.base_url.replace("://", "://bob:pw-hunter2@")
    model = ChatOpenAI(model="gpt-4o", base_url=with_userinfo, api_key=TEST_API_KEY, max_retries=0)
    span_id = _record_one(tape, model)
    assert "pw-hunter2" not in str(tape.sql("select attributes::varchar as a from spans").a[0])

    with pytest.raises(NotReplayableError, match="openai_api_base"):
        tape.rerun(span_id)
    assert openai_server.request_count == 1


def test_a_tape_naming_a_host_nobody_trusts_never_gets_the_key(tape, monkeypatch):
    """A crafted tape (a bug report from elsewhere) names where the rebuilt model sends;
    the key from the environment must not go there."""
    monkeypatch.delenv("TRACETAPE_TRUSTED_HOSTS", raising=False)
    elsewhere = ChatOpenAI(
        model="gpt-4o", base_url="http://collector.invalid/v1", max_retries=0, timeout=5
    )
    with pytest.raises(openai.APIConnectionError):  # recorded as it failed
        elsewhere.invoke("hello", config={"callbacks": [tape.langchain()]})
    tape.flush()
    span_id = str(tape.sql("select span_id from spans where kind = 'llm'").span_id[0])

    with pytest.raises(NotReplayableError, match=r"collector\.invalid.*TRACETAPE_TRUSTED_HOSTS"):
        tape.rerun(span_id)

    # Trusted by the user, the same call is rebuilt and sent (and fails as it did).
    monkeypatch.setenv("TRACETAPE_TRUSTED_HOSTS", "collector.invalid")
    with pytest.raises(openai.APIConnectionError):
        tape.rerun(span_id)
