"""The model's serialised constructor (``tracetape.model.config``) is redacted by its
structure: secret-named keys, every header, query and cookie value, URL credentials and
credential-shaped text are replaced; LangChain's secret nodes (names of environment
variables) are kept, so the model can be rebuilt. Real ChatOpenAI objects are recorded
over loopback HTTP and the whole tape is searched afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_core.load import dumpd
from langchain_openai import ChatOpenAI

import tracetape
from tests.e2e.test_secrets import _raw_bytes, _spool_text, _tape_text
from tests.fakes.openai_server import TEST_API_KEY, Reply
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.capture.langchain import llm
from tracetape.spans import semconv
from tracetape.spans.encode import redacted_dumps
from tracetape.spans.redact import REDACTED, redact_text, refresh_environment

BASIC = "Basic dXNlcjpodW50ZXIy"
SUBSCRIPTION = "0123456789abcdef0123456789abcdef"
GOOGLE_SHORT = "AIzaSomethingShort"
X_AUTH = "custom-auth-value-4242"
COOKIE = "session=cookie-value-7777"
EXTRA = "extra-header-value-5151"

# Each model's constructor carries secrets in one of the shapes a user's would.
SHAPES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "authorization header": (
        {"default_headers": {"Authorization": BASIC}},
        [BASIC, "dXNlcjpodW50ZXIy"],
    ),
    "subscription key header": (
        {"default_headers": {"Ocp-Apim-Subscription-Key": SUBSCRIPTION}},
        [SUBSCRIPTION],
    ),
    "custom auth header": ({"default_headers": {"X-Auth": X_AUTH}}, [X_AUTH]),
    "query key": ({"default_query": {"key": GOOGLE_SHORT}}, [GOOGLE_SHORT]),
    "extra headers in model kwargs": (
        {"model_kwargs": {"extra_headers": {"X-Token-Ish": EXTRA}}},
        [EXTRA],
    ),
    "cookie in upper-case headers": (
        {"model_kwargs": {"extra_headers": {"Cookie": COOKIE}}},
        [COOKIE, "cookie-value-7777"],
    ),
}


def _record(path: Path, server: Any, model: Any) -> None:
    tape = tracetape.open(path)
    try:
        if model.default_query:  # the loopback server has no route with a query string
            with pytest.raises(openai.NotFoundError, match="no such route"):
                model.invoke("hello", config={"callbacks": [tape.langchain()]})
        else:
            model.invoke("hello", config={"callbacks": [tape.langchain()]})
        assert tape.flush() > 0
    finally:
        tape.close()


def _configs(path: Path) -> list[str]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select attributes->>? from spans where kind = 'llm' order by start_time",
            [semconv.MODEL_CONFIG],
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


def _assert_nowhere(root: Path, path: Path, needles: list[str]) -> None:
    text = _tape_text(path) + _spool_text(root)
    raw = _raw_bytes(root)
    for needle in needles:
        assert needle not in text, f"{needle!r} reached the tape"
        assert needle.encode() not in raw, f"{needle!r} is in the tape's bytes"


@pytest.mark.parametrize("shape", list(SHAPES))
def test_no_secret_of_the_model_s_config_reaches_the_tape(tmp_path, openai_server, shape):
    kwargs, needles = SHAPES[shape]
    openai_server.script(Reply(content="hi"))
    path = tmp_path / "tape.duckdb"

    model = openai_server.chat_model(**kwargs)
    assert all(n in json.dumps(dumpd(model)) for n in needles)  # capture had them to leak

    _record(path, openai_server, model)

    _assert_nowhere(tmp_path, path, [*needles, TEST_API_KEY])
    [text] = _configs(path)
    config = json.loads(text)  # valid JSON
    assert REDACTED in text
    assert config["kwargs"]["openai_api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["OPENAI_API_KEY"],
    }
    assert config["kwargs"]["openai_api_base"] == openai_server.base_url


def test_credentials_in_a_base_url_are_stripped(tmp_path):
    model = ChatOpenAI(
        model="gpt-4o", api_key="sk-abc", base_url="https://bob:pw-hunter2@proxy.example/v1"
    )
    token_only = ChatOpenAI(
        model="gpt-4o", api_key="sk-abc", base_url="https://tok-8c1f2e9d@proxy.example/v1"
    )

    shown = json.loads(llm.model_config(dumpd(model)))
    shown_token = json.loads(llm.model_config(dumpd(token_only)))

    assert shown["kwargs"]["openai_api_base"] == f"https://{REDACTED}@proxy.example/v1"
    assert shown_token["kwargs"]["openai_api_base"] == f"https://{REDACTED}@proxy.example/v1"


def test_the_walk_keeps_secret_nodes_and_shape():
    serialized = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "chat_models", "openai", "ChatOpenAI"],
        "kwargs": {
            "openai_api_key": {"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]},
            "DEFAULT_HEADERS": {"secret": 123456789, "X-Empty": None},
            "client_secret": 987654321,
            "temperature": 0.3,
            "max_tokens": 10,
            "stop": ["\n", f"token={TEST_API_KEY}"],
            "note": f"uses {TEST_API_KEY}",
        },
    }

    config = json.loads(llm.model_config(serialized))

    kwargs = config["kwargs"]
    assert kwargs["openai_api_key"] == {"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}
    assert kwargs["DEFAULT_HEADERS"] == {"secret": REDACTED, "X-Empty": None}
    assert kwargs["client_secret"] == REDACTED
    assert (kwargs["temperature"], kwargs["max_tokens"]) == (0.3, 10)
    assert kwargs["stop"][0] == "\n" and TEST_API_KEY not in json.dumps(config)
    assert config["id"] == serialized["id"]


def test_a_non_string_secret_value_keeps_the_json_valid():
    text = '{"kwargs":{"default_headers":{"secret":123456789}}}'
    assert "123456789" not in redact_text(text)  # the text rule still hides it ...
    # ... and a dump of such data stays JSON, redacted by its structure.
    dumped = redacted_dumps({"kwargs": {"default_headers": {"secret": 123456789}}})
    assert json.loads(dumped) == {"kwargs": {"default_headers": {"secret": REDACTED}}}


def test_a_secret_added_to_the_environment_later_is_redacted_at_once(
    tmp_path, openai_server, monkeypatch
):
    value = "acme-routing-value-90210"
    model = openai_server.chat_model(model_kwargs={"user": value})
    openai_server.script(Reply(content="one"), Reply(content="two"))
    first, second = tmp_path / "a" / "tape.duckdb", tmp_path / "b" / "tape.duckdb"
    first.parent.mkdir()
    second.parent.mkdir()

    _record(first, openai_server, model)
    assert value in _configs(first)[0]  # not a secret yet
    monkeypatch.setenv("ACME_ROUTING_TOKEN", value)
    refresh_environment()
    _record(second, openai_server, model)

    assert value not in _configs(second)[0]
    _assert_nowhere(second.parent, second, [value])


def test_a_failing_config_loses_only_its_own_attribute(tape, monkeypatch):
    from tracetape import _safety

    def broken(serialized: Any) -> str:
        raise RuntimeError("config walk failed")

    monkeypatch.setattr(llm, "model_config", broken)
    _safety.set_strict(False)  # the suite's strict mode re-raises; the fixture restores it
    serialized = dumpd(ChatOpenAI(model="gpt-4o", api_key="sk-abc"))

    attrs = llm.request_attributes(
        serialized, {"model": "gpt-4o", "temperature": 0.1}, {}, tape.recorder
    )

    assert semconv.MODEL_CONFIG not in attrs
    assert attrs[semconv.REQUEST_MODEL] == "gpt-4o"
    assert attrs[semconv.REQUEST_TEMPERATURE] == 0.1
    assert attrs[semconv.MODEL_CLASS].endswith("ChatOpenAI")
