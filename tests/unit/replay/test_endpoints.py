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
    for name in (*endpoints.PROVIDER_VARIABLES, endpoints.TRUSTED_HOSTS_ENV):
        monkeypatch.delenv(name, raising=False)


def refused(config: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(NotReplayableError) as caught:
        endpoints.check(config, "the model", environ or {})
    return str(caught.value)


def test_a_recorded_endpoint_the_user_does_not_trust_is_refused():
    crafted = openai(base_url="https://collector.example/v1")

    with pytest.raises(NotReplayableError) as caught:
        model_call.rebuild(recorded(crafted), "environment")

    message = str(caught.value)
    assert "collector.example" in message and "openai_api_base" in message
    assert endpoints.TRUSTED_HOSTS_ENV in message and "model=" in message
    # Asked only for its params (never sent), the model still rebuilds.
    assert model_call.rebuild(recorded(crafted), "placeholder") is not None


def test_proxies_azure_endpoints_and_bare_hosts_are_endpoints_too(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-from-env")
    azure = dumpd(
        AzureChatOpenAI(
            azure_endpoint="https://collector.example",
            api_version="2024-06-01",
            azure_deployment="gpt-4o",
            api_key="sk-abc",  # pyright: ignore[reportArgumentType]
        )
    )
    assert "collector.example" in refused(azure)
    assert "proxy.collector.example:8080" in refused(
        openai(openai_proxy="http://proxy.collector.example:8080")
    )
    # Any scheme, and a host with no scheme where the key names an endpoint (as
    # Vertex AI's api_endpoint and client_options do).
    socks = {"kwargs": {"openai_proxy": "socks5://keys.collector.example:1080"}}
    bare = {"kwargs": {"api_endpoint": "keys.collector.example"}}
    nested = {"kwargs": {"client_options": {"api_endpoint": "keys.collector.example:443"}}}
    for crafted in (socks, bare, nested):
        assert "keys.collector.example" in refused(crafted)
    assert "cannot be checked" in refused({"kwargs": {"base_url": "https://"}})
    # Not an endpoint: other keys' plain text, and URLs of no network.
    endpoints.check({"kwargs": {"security": "high", "model_name": "gpt-4o"}}, "the model", {})
    endpoints.check({"kwargs": {"cache": "file:///tmp/cache"}}, "the model", {})


def test_the_provider_default_and_this_machine_are_trusted():
    assert isinstance(model_call.rebuild(recorded(openai()), "environment"), ChatOpenAI)
    for local in ("http://127.0.0.1:8000/v1", "http://localhost:4000", "http://[::1]:8080/v1"):
        endpoints.check(openai(base_url=local), "the model", {})
    assert "keys.localhost" in refused(openai(base_url="http://keys.localhost/v1"))


def test_a_provider_variable_trusts_its_own_origin_only():
    gateway = openai(base_url="https://llm-gateway.corp.example/v1")
    environ = {"OPENAI_BASE_URL": "https://llm-gateway.corp.example/v1"}
    endpoints.check(gateway, "the model", environ)
    endpoints.check(openai(base_url="https://llm-gateway.corp.example:443/v2"), "m", environ)
    # Not over plain HTTP, not on another port: the key would go elsewhere.
    assert refused(openai(base_url="http://llm-gateway.corp.example/v1"), environ)
    assert refused(openai(base_url="https://llm-gateway.corp.example:8443/v1"), environ)


def test_only_provider_variables_and_the_trusted_list_count():
    crafted = openai(base_url="http://10.96.12.7/v1")
    not_endpoints = {
        "REDIS_SERVICE_HOST": "10.96.12.7",  # Kubernetes sets one per service
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.96.12.7:4318",
        "LANGSMITH_ENDPOINT": "http://10.96.12.7",
    }
    assert "10.96.12.7" in refused(crafted, not_endpoints)
    endpoints.check(crafted, "the model", {endpoints.TRUSTED_HOSTS_ENV: "a.example, 10.96.12.7"})
    endpoints.check(crafted, "the model", {endpoints.TRUSTED_HOSTS_ENV: "10.96.12.7:80"})
    assert refused(crafted, {endpoints.TRUSTED_HOSTS_ENV: "10.96.12.7:8080"})
    endpoints.check(
        {"kwargs": {"base_url": "http://gpu-box:11434"}},
        "the model",
        {"OLLAMA_HOST": "gpu-box:11434"},
    )


def test_rerun_rebuilds_for_a_host_the_user_lists(monkeypatch):
    gateway = openai(base_url="https://llm-gateway.corp.example/v1")
    monkeypatch.setenv(endpoints.TRUSTED_HOSTS_ENV, "other.example, LLM-Gateway.corp.example")
    model = model_call.rebuild(recorded(gateway), "environment")
    assert str(model.openai_api_base) == "https://llm-gateway.corp.example/v1"
