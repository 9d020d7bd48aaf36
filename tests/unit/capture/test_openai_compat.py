"""Fails when the ``openai`` SDK changes the private things `capture.openai._compat` touches."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import openai
import pytest
from openai import _constants, _legacy_response, _response
from openai.resources.chat.completions import AsyncCompletions, Completions
from openai.resources.embeddings import AsyncEmbeddings, Embeddings

from tracetape.capture.openai import _compat
from tracetape.capture.openai.stream import TracedAsyncStream, TracedStream


def test_completions_classes_are_the_clients_resources():
    classes = _compat.completions_classes()
    assert classes is not None
    sync_cls, async_cls = classes
    assert (sync_cls, async_cls) == (Completions, AsyncCompletions)
    assert "create" in vars(sync_cls) and "create" in vars(async_cls)
    assert inspect.iscoroutinefunction(inspect.unwrap(async_cls.create))
    with openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1") as client:
        assert isinstance(client.chat.completions, sync_cls)
        assert _compat.client_of(client.chat.completions) is client
        assert _compat.base_url(client) == ("127.0.0.1", 9)
        assert not _compat.is_azure(client)


def test_embeddings_classes_are_the_clients_resources():
    classes = _compat.embeddings_classes()
    assert classes is not None
    sync_cls, async_cls = classes
    assert (sync_cls, async_cls) == (Embeddings, AsyncEmbeddings)
    assert "create" in vars(sync_cls) and "create" in vars(async_cls)
    assert inspect.iscoroutinefunction(inspect.unwrap(async_cls.create))
    params = inspect.signature(inspect.unwrap(Embeddings.create)).parameters
    for name in ("input", "model", "dimensions", "encoding_format", "extra_headers"):
        assert name in params, name
    with openai.OpenAI(api_key="sk-x", base_url="http://127.0.0.1:9/v1") as client:
        assert isinstance(client.embeddings, sync_cls)


def test_create_takes_the_keywords_recording_reads():
    params = inspect.signature(inspect.unwrap(Completions.create)).parameters
    for name in (
        "messages",
        "model",
        "stream",
        "stream_options",
        "tools",
        "functions",
        "response_format",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "extra_headers",
    ):
        assert name in params, name


def test_azure_clients_are_recognised():
    azure = openai.AzureOpenAI(
        api_key="k", api_version="2024-10-21", azure_endpoint="https://example.invalid"
    )
    with azure:
        assert _compat.is_azure(azure)


def test_raw_response_wrappers_mark_extra_headers():
    assert _constants.RAW_RESPONSE_HEADER == _compat.RAW_RESPONSE_HEADER

    def seen(**kwargs: Any) -> Any:
        return kwargs

    raw = _legacy_response.to_raw_response_wrapper(seen)(extra_headers={"a": "b"})
    assert _compat.response_mode(raw) == "raw"
    assert raw["extra_headers"]["a"] == "b"

    class Closing(dict[str, Any]):
        def close(self) -> None:
            return None

    with _response.to_streamed_response_wrapper(lambda **kw: Closing(kw))() as streamed:
        assert _compat.response_mode(streamed) == "streamed_raw"
    assert _compat.response_mode({}) == "parsed"
    assert _compat.response_mode({"extra_headers": None}) == "parsed"


def test_not_given_sentinels_are_recognised():
    assert _compat.is_omitted(openai.omit)
    assert _compat.is_omitted(openai.NOT_GIVEN)
    for value in (None, False, 0, "", [], {}):
        assert not _compat.is_omitted(value)


def test_legacy_response_parse_is_cached():
    # Recording parses a raw response; the user's own parse() must get the same object.
    source = inspect.getsource(_legacy_response.LegacyAPIResponse.parse)
    assert "_parsed_by_type" in source


def test_stream_interface_the_stand_ins_cover():
    # TracedStream / TracedAsyncStream define these and forward everything else.
    for name in ("__iter__", "__next__", "__enter__", "__exit__", "close"):
        assert name in vars(openai.Stream), name
    for name in ("__aiter__", "__anext__", "__aenter__", "__aexit__", "close"):
        assert name in vars(openai.AsyncStream), name
    assert inspect.iscoroutinefunction(openai.AsyncStream.close)
    assert "response" in openai.Stream.__annotations__
    for name in ("__iter__", "__next__", "__enter__", "__exit__", "close"):
        assert name in vars(TracedStream), name
    for name in ("__aiter__", "__anext__", "__aenter__", "__aexit__", "close"):
        assert name in vars(TracedAsyncStream), name


def test_openai_missing_makes_instrumenting_a_no_op(monkeypatch: pytest.MonkeyPatch):
    from tracetape.capture.openai import patch

    monkeypatch.setitem(sys.modules, _compat.COMPLETIONS_MODULE, None)  # as if not installed
    monkeypatch.setattr(patch, "_patched", [])
    assert _compat.completions_classes() is None
    assert patch.instrument_openai(object()) is False  # type: ignore[arg-type]
    assert not patch.is_instrumented()
