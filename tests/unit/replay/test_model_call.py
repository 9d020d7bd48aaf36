"""A recorded call's own arguments are told from its model's params; its model is
rebuilt from the recorded constructor with secrets from the environment only."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI

from tracetape.replay import NotReplayableError, model_call
from tracetape.replay.model_call import ModelCall
from tracetape.replay.rerun import same_answer


def recorded(params: dict[str, Any], config: dict[str, Any] | None = None) -> ModelCall:
    return ModelCall(
        span_id="00f067aa0ba902b7",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        model_class="langchain.chat_models.openai.ChatOpenAI",
        messages=[],
        response=None,
        params=params,
        tools=None,
        config=config,
        streamed=False,
    )


def config_of(**kwargs: Any) -> dict[str, Any]:
    return dumpd(ChatOpenAI(model="gpt-4o", api_key="sk-abc", **kwargs))  # pyright: ignore[reportArgumentType]


def test_the_call_s_arguments_are_what_the_model_does_not_report_itself():
    own = {"model": "gpt-4o", "temperature": 0.3, "stop": None, "_type": "openai-chat"}
    call = recorded({**own, "temperature": 0.0, "tool_choice": "required", "stop": ["\n"]})
    assert model_call.call_arguments(call, own) == {
        "temperature": 0.0,
        "tool_choice": "required",
        "stop": ["\n"],
    }
    # A redacted argument is never sent: a model given in its place brings its own.
    marked = recorded({**own, "extra_headers": {"X-Auth": "[REDACTED]"}, "seed": 3})
    assert model_call.call_arguments(marked, own) == {"seed": 3}
    with pytest.raises(NotReplayableError, match="extra_headers were redacted"):
        model_call.rebuild(ModelCall(**{**vars(marked), "config": config_of()}), "environment")
    # Without the model's own params only what every provider names alike is sent on.
    assert model_call.call_arguments(call, None) == {"tool_choice": "required", "stop": ["\n"]}


def test_the_model_is_rebuilt_with_its_secret_from_the_environment(monkeypatch):
    call = recorded({}, config_of(temperature=0.3, base_url="http://127.0.0.1:9/v1"))
    assert "sk-abc" not in str(call.config)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(NotReplayableError, match="takes OPENAI_API_KEY from the environment"):
        model_call.rebuild(call, "environment")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")

    model = model_call.rebuild(call, "environment")

    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "sk-from-env"
    assert (model.temperature, model.openai_api_base) == (0.3, "http://127.0.0.1:9/v1")
    placeholder = model_call.rebuild(call, "placeholder")
    assert placeholder.openai_api_key.get_secret_value() != "sk-from-env"
    assert model_call.own_params(call) == {
        "model": "gpt-4o",
        "model_name": "gpt-4o",
        "stream": False,
        "temperature": 0.3,
        "_type": "openai-chat",
        "stop": None,
    }


def test_what_cannot_be_rebuilt_says_so():
    with pytest.raises(NotReplayableError, match="pass model="):
        model_call.rebuild(recorded({}), "placeholder")
    assert model_call.own_params(recorded({})) is None
    outside = {**config_of(), "id": ["somewhere", "else", "Evil"]}
    with pytest.raises(NotReplayableError, match="cannot rebuild"):
        model_call.rebuild(recorded({}, outside), "placeholder")


def test_answers_are_the_same_when_their_text_and_tool_calls_are():
    a = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "call_1"}], id="x")
    b = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "call_2"}], id="y")
    c = AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2}, "id": "call_1"}])
    assert same_answer(a, b)
    assert not same_answer(a, c)
    assert same_answer(AIMessage("7"), AIMessage([{"type": "text", "text": "7"}]))
    assert not same_answer(AIMessage("7"), None)


def test_a_redacted_config_is_never_sent(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    config = config_of(default_headers={"X-Api-Key": "[REDACTED]"})
    config["kwargs"]["openai_api_base"] = "https://[REDACTED]@proxy.example/v1"

    with pytest.raises(NotReplayableError, match="default_headers, openai_api_base") as caught:
        model_call.rebuild(recorded({}, config), "environment")

    assert "pass model=" in str(caught.value)
    # Asked only for its params (never called), the model still rebuilds.
    assert model_call.rebuild(recorded({}, config), "placeholder") is not None


def test_only_the_secrets_the_class_declares_are_resolved(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-from-env")
    node = {"lc": 1, "type": "secret", "id": ["AWS_SECRET_ACCESS_KEY"]}
    assert model_call.declared_secrets(ChatOpenAI) == {"openai_api_key": "OPENAI_API_KEY"}
    in_header = config_of(default_headers={"X-Exfil": "x"})
    in_header["kwargs"]["default_headers"]["X-Exfil"] = node
    renamed = config_of()
    renamed["kwargs"]["openai_api_key"] = node
    declared = model_call.declared_secrets(ChatOpenAI)

    for crafted in (in_header, renamed):
        with pytest.raises(NotReplayableError, match="AWS_SECRET_ACCESS_KEY"):
            model_call.resolve_secrets(crafted, declared, "environment")
        with pytest.raises(NotReplayableError, match="AWS_SECRET_ACCESS_KEY"):
            model_call.rebuild(recorded({}, crafted), "environment")

    assert model_call.resolve_secrets(config_of(), declared, "environment") == {
        "OPENAI_API_KEY": "sk-from-env"
    }
