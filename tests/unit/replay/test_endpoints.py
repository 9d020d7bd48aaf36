"""A model rebuilt from a tape is sent only to hosts the user trusts: a crafted tape
must not choose where the user's API key goes."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.load import dumpd
from langchain_openai import AzureChatOpenAI, ChatOpenAI

from tests.unit.replay.test_model_call import recorded as recorded_call
from tracetape.replay import NotReplayableError, endpoints, model_call
from tracetape.replay.model_call import ModelCall


def recorded(config: dict[str, Any]) -> ModelCall:
    return recorded_call({}, config)


def openai(**kwargs: Any) -> dict[str, Any]:
    return dumpd(ChatOpenAI(model="gpt-4o", api_key="sk-abc", **kwargs))  # pyright: ignore[reportArgumentType]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE", endpoints.TRUSTED_HOSTS_ENV):
        monkeypatch.delenv(name, raising=False)


def test_a_recorded_endpoint_the_user_does_not_trust_is_refused():
    crafted = openai(base_url="https://collector.example/v1")

    with pytest.raises(NotReplayableError) as caught:
        model_call.rebuild(recorded(crafted), "environment")

    message = str(caught.value)
    assert "collector.example" in message and "openai_api_base" in message
    assert endpoints.TRUSTED_HOSTS_ENV in message and "model=" in message
    # Asked only for its params (never sent), the model still rebuilds.
    assert model_call.rebuild(recorded(crafted), "placeholder") is not None


def test_a_proxy_or_an_azure_endpoint_is_an_endpoint_too(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-from-env")
    proxied = openai(openai_proxy="http://proxy.collector.example:8080")
    azure = dumpd(
        AzureChatOpenAI(
            azure_endpoint="https://collector.example",
            api_version="2024-06-01",
            azure_deployment="gpt-4o",
            api_key="sk-abc",  # pyright: ignore[reportArgumentType]
        )
    )
    for crafted, host in ((proxied, "proxy.collector.example"), (azure, "collector.example")):
        with pytest.raises(NotReplayableError, match=host.replace(".", r"\.")):
            endpoints.check(crafted, "the model")


def test_the_provider_default_and_this_machine_are_trusted():
    assert isinstance(model_call.rebuild(recorded(openai()), "environment"), ChatOpenAI)
    for local in ("http://127.0.0.1:8000/v1", "http://localhost:4000", "http://[::1]:8080/v1"):
        endpoints.check(openai(base_url=local), "the model")


def test_a_host_the_environment_configures_or_lists_is_trusted(monkeypatch):
    gateway = openai(base_url="https://llm-gateway.corp.example/v1")
    with pytest.raises(NotReplayableError):
        endpoints.check(gateway, "the model")

    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm-gateway.corp.example/v1")
    endpoints.check(gateway, "the model")

    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv(endpoints.TRUSTED_HOSTS_ENV, "other.example, LLM-Gateway.corp.example")
    model = model_call.rebuild(recorded(gateway), "environment")
    assert str(model.openai_api_base) == "https://llm-gateway.corp.example/v1"


def test_trusted_hosts_come_from_endpoint_variables_only():
    environ = {
        "OLLAMA_HOST": "127.0.0.1:11434",
        "ANTHROPIC_BASE_URL": "https://anthropic-proxy.example",
        "DOCKER_HOST": "unix:///var/run/docker.sock",
        "HOME_PAGE": "https://not-an-endpoint.example",
        endpoints.TRUSTED_HOSTS_ENV: "a.example,,b.example ",
    }
    assert endpoints.trusted_hosts(environ) == {
        "127.0.0.1",
        "anthropic-proxy.example",
        "a.example",
        "b.example",
    }
