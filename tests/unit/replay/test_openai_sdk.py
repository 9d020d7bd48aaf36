"""Replay's hold on the ``openai`` SDK: its private seams (these fail when the SDK changes
them), the request key (the one capture records), and the recorded body on the wire."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx2
import openai
import pytest
from openai import _base_client
from openai.resources.chat import completions as resources
from openai.types.chat import ChatCompletionMessage
from pydantic import BaseModel

from tracetape.capture.openai.chunks import ChunkAccumulator
from tracetape.capture.openai.request import given, message_attributes
from tracetape.errors import TracetapeError
from tracetape.replay import _compat, openai_sdk
from tracetape.spans import semconv


class Answer(BaseModel):
    value: int


COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-2024-08-06",
    "system_fingerprint": "fp_1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def _params(function: Any) -> list[str]:
    return list(inspect.signature(inspect.unwrap(function)).parameters)


def test_the_sdk_seams_exist_where_replay_wraps_them():
    for name in openai_sdk.RESOURCE_CLASSES:
        cls = getattr(resources, name)
        for method in openai_sdk.METHODS:
            assert "messages" in _params(cls.__dict__[method])
    for name in openai_sdk.CLIENT_CLASSES:
        cls = getattr(_base_client, name)
        assert _params(cls.__dict__[openai_sdk.SEND])[:2] == ["self", "request"]
        assert "self._send_request(" in inspect.getsource(cls.request)
    # The client classes users build override it; replay wraps their own definitions too.
    assert openai_sdk.SEND in openai.OpenAI.__dict__
    assert openai_sdk.SEND in openai.AsyncOpenAI.__dict__


def test_install_is_idempotent_and_passes_through_when_idle():
    assert openai_sdk.install()
    wrapped = openai.OpenAI.__dict__[openai_sdk.SEND]
    assert openai_sdk.install()
    assert openai.OpenAI.__dict__[openai_sdk.SEND] is wrapped
    assert not hasattr(wrapped.__tracetape_replay_original__, "__tracetape_replay_original__")
    assert inspect.iscoroutinefunction(openai.AsyncOpenAI.__dict__[openai_sdk.SEND])
    assert inspect.iscoroutinefunction(resources.AsyncCompletions.__dict__["create"])
    assert _compat.active.get() is None and openai_sdk.canned.get() is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0},
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief. key sk-test-0123456789abcdefABCDEF01"},
                ChatCompletionMessage(role="assistant", content="earlier"),
            ],
            "tools": [{"type": "function", "function": {"name": "add", "parameters": {}}}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "timeout": 30,
        },
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "1+2"}],
            "response_format": Answer,
        },
    ],
)
def test_the_request_key_is_the_one_capture_records(tape: Any, kwargs: dict[str, Any]):
    attrs = message_attributes(given(kwargs), tape.recorder, {})
    hashes, request = openai_sdk.request_key(kwargs)
    assert list(hashes) == json.loads(attrs[semconv.REPLAY_INPUT])
    assert request == attrs[semconv.REPLAY_REQUEST]
    assert openai_sdk.recorded_key(attrs, hashes) == (hashes, request)


def test_a_changed_message_changes_the_key():
    one = {"model": "m", "messages": [{"role": "system", "content": "a"}]}
    two = {"model": "m", "messages": [{"role": "system", "content": "b"}]}
    assert openai_sdk.request_key(one)[0] != openai_sdk.request_key(two)[0]
    assert openai_sdk.request_key(one)[1] == openai_sdk.request_key(two)[1]
    assert openai_sdk.request_key({**one, "seed": 1})[1] != openai_sdk.request_key(one)[1]


def test_the_chunk_events_reassemble_into_the_recorded_completion():
    accumulator = ChunkAccumulator()
    for chunk in openai_sdk.chunks(COMPLETION):
        accumulator.add(openai.types.chat.ChatCompletionChunk.model_validate(chunk))
    assert accumulator.completion() == COMPLETION


def test_parsed_is_left_out_of_the_wire_body():
    parsed = json.loads(json.dumps(COMPLETION))
    parsed["choices"][0]["message"]["parsed"] = {"value": 3}
    wire = openai_sdk.wire_completion(parsed)
    assert wire == COMPLETION
    assert parsed["choices"][0]["message"]["parsed"] == {"value": 3}  # not changed


def test_a_canned_response_answers_one_request_only():
    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    canned = openai_sdk.Canned(COMPLETION, streamed=False)
    response = canned.response(request)
    assert isinstance(response, httpx2.Response)
    assert response.json() == COMPLETION and response.request is request
    with pytest.raises(TracetapeError, match="second request"):
        canned.response(request)
    streamed = openai_sdk.Canned(COMPLETION, streamed=True).response(request)
    assert streamed.headers["content-type"] == "text/event-stream"
    assert streamed.text.endswith("data: [DONE]\n\n")


def test_an_answered_call_sends_nothing():
    openai_sdk.install()

    class Hooks:
        def chat_completion(self, kwargs: Any) -> dict[str, Any]:
            return COMPLETION

    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-unused", max_retries=0)
    token = _compat.active.set(Hooks())  # pyright: ignore[reportArgumentType]
    try:
        answer = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "add"}]
        )
    finally:
        _compat.active.reset(token)
    call = (answer.choices[0].message.tool_calls or [])[0]
    assert call.function.arguments == '{"a": 1, "b": 2}'  # pyright: ignore[reportAttributeAccessIssue]


def test_a_recorded_http_failure_is_played_back_as_that_error_response_once():
    attrs = {semconv.HTTP_STATUS_CODE: 429, semconv.MODEL_ERROR_CODE: "rate_limit_exceeded"}
    failure = openai_sdk.Failure.of(attrs, "slow down")
    assert failure == openai_sdk.Failure(429, "slow down", "rate_limit_exceeded")
    assert openai_sdk.Failure.of({}, "connection reset") is None
    request = httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")
    response = openai_sdk.Canned(failure, streamed=True).response(request)
    assert response.status_code == 429 and response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["message"] == "slow down"


def test_replay_needs_no_openai_installed():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['openai'] = None\n"
        "from tracetape.replay import _compat, openai_sdk, player\n"
        "assert openai_sdk.install() is False\n"
        "_compat.install()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr
