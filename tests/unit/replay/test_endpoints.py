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


OPENAI = "langchain_openai"


def passes(config: dict[str, Any], environ: dict[str, str] | None = None) -> None:
    endpoints.check(config, "the model", OPENAI, environ or {})


def refused(config: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(NotReplayableError) as caught:
        passes(config, environ)
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
    # Vertex AI's api_endpoint and client_options do), however the key is spelled or
    # escaped by LangChain.
    for crafted in (
        {"kwargs": {"openai_proxy": "socks5://keys.collector.example:1080"}},
        {"kwargs": {"api_endpoint": "keys.collector.example"}},
        {"kwargs": {"client_options": {"api_endpoint": "keys.collector.example:443"}}},
        {"kwargs": {"hOsT": "keys.collector.example"}},
        {"kwargs": {"apiEndPoint": "keys.collector.example"}},
        {"kwargs": {"openai_api_base": {"__lc_escaped__": "keys.collector.example"}}},
        {"kwargs": {"model_kwargs": {"note": "https://keys.collector.example/v1"}}},
    ):
        assert "keys.collector.example" in refused(crafted), crafted


def test_a_value_that_clients_may_read_otherwise_is_refused():
    """What a URL parser makes of these differs from what an HTTP client sends to:
    ``https:@127.0.0.1/..///evil.example/v1`` reads as this machine and is sent to
    evil.example once the client drops the dot segments."""
    for value in (
        "https:@127.0.0.1/..///evil.example/v1",
        "http:@localhost/..///evil.example/v1",
        "http://127.0.0.1/../evil.example",
        "http://evil.example[::1]/v1",
        "http:evil.example",
        "https:\\evil.example",
        "https://",
    ):
        assert "cannot be checked" in refused({"kwargs": {"base_url": value}}), value


def test_what_names_no_network_place_is_not_an_endpoint():
    passes(
        {
            "kwargs": {
                "security": "high",
                "model_name": "s3://bucket/models/llama",
                "stop": ["http://"],
                "extra_body": {"guided_regex": "https?://\\S+", "base_model": "llama-3-8b"},
                "cache": "file:///tmp/cache",
            }
        }
    )


def test_the_provider_default_and_this_machine_are_trusted():
    assert isinstance(model_call.rebuild(recorded(openai()), "environment"), ChatOpenAI)
    for local in ("http://127.0.0.1:8000/v1", "http://localhost:4000", "http://[::1]:8080/v1"):
        passes(openai(base_url=local))
    assert "keys.localhost" in refused(openai(base_url="http://keys.localhost/v1"))


def test_a_provider_variable_trusts_its_own_origin_for_its_own_models():
    gateway = openai(base_url="https://llm-gateway.corp.example/v1")
    environ = {"OPENAI_BASE_URL": "https://llm-gateway.corp.example/v1"}
    passes(gateway, environ)
    passes(openai(base_url="https://llm-gateway.corp.example:443/v2"), environ)
    # Not over plain HTTP, not on another port: the key would go elsewhere.
    assert refused(openai(base_url="http://llm-gateway.corp.example/v1"), environ)
    assert refused(openai(base_url="https://llm-gateway.corp.example:8443/v1"), environ)
    # Another provider's variable is no reason to send an OpenAI key there.
    ollama = {"kwargs": {"base_url": "http://gpu-box:11434/v1"}}
    assert refused(ollama, {"OLLAMA_HOST": "gpu-box:11434"})
    endpoints.check(ollama, "the model", "langchain_ollama", {"OLLAMA_HOST": "gpu-box"})
    with pytest.raises(NotReplayableError):  # a bare OLLAMA_HOST means Ollama's port
        endpoints.check(
            {"kwargs": {"base_url": "http://gpu-box:8080"}},
            "the model",
            "langchain_ollama",
            {"OLLAMA_HOST": "gpu-box"},
        )
    passes(
        openai(openai_proxy="http://proxy.corp.example:3128"),
        {"OPENAI_PROXY": "http://proxy.corp.example:3128"},
    )


def test_only_provider_variables_and_the_trusted_list_count():
    crafted = openai(base_url="http://10.96.12.7/v1")
    not_endpoints = {
        "REDIS_SERVICE_HOST": "10.96.12.7",  # Kubernetes sets one per service
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.96.12.7:4318",
        "LANGSMITH_ENDPOINT": "http://10.96.12.7",
    }
    assert "10.96.12.7" in refused(crafted, not_endpoints)
    passes(crafted, {endpoints.TRUSTED_HOSTS_ENV: "a.example, 10.96.12.7"})
    passes(crafted, {endpoints.TRUSTED_HOSTS_ENV: "10.96.12.7:80"})
    assert refused(crafted, {endpoints.TRUSTED_HOSTS_ENV: "10.96.12.7:8080"})


def test_rerun_rebuilds_for_a_host_the_user_lists(monkeypatch):
    gateway = openai(base_url="https://llm-gateway.corp.example/v1")
    monkeypatch.setenv(endpoints.TRUSTED_HOSTS_ENV, "other.example, LLM-Gateway.corp.example")
    model = model_call.rebuild(recorded(gateway), "environment")
    assert str(model.openai_api_base) == "https://llm-gateway.corp.example/v1"


@pytest.mark.parametrize("module", ["httpx2", "httpx"])
def test_each_request_of_a_rebuilt_model_is_checked_as_its_client_parsed_it(module):
    """The last word: whatever a config check read, a request to a place the user does
    not trust never leaves; outside a rerun the same client sends as it always does."""
    http = pytest.importorskip(module)
    sent: list[str] = []

    def transport(request: Any) -> Any:
        sent.append(str(request.url))
        return http.Response(200, text="ok")

    client = http.Client(transport=http.MockTransport(transport))
    with endpoints.guarded("ChatOpenAI", OPENAI):
        with pytest.raises(NotReplayableError, match=r"tried to send to \S*evil\.example"):
            client.get("https:@127.0.0.1/..///evil.example/v1")
        with pytest.raises(NotReplayableError, match=r"collector\.example"):
            client.get("https://collector.example/v1/chat/completions")
        client.get("http://127.0.0.1:9/v1/chat/completions")
    client.get("https://collector.example/v1/chat/completions")  # not a rerun: not ours to stop

    assert sent == [
        "http://127.0.0.1:9/v1/chat/completions",
        "https://collector.example/v1/chat/completions",
    ]
