"""Recorded LlamaIndex payloads revived, and requests shown as diffable lines."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from tracetape.replay.llamaindex import calls, payloads
from tracetape.replay.llamaindex._compat import ModelCall
from tracetape.replay.llamaindex.session import refuse_unrecorded_stream
from tracetape.replay.recording import NotReplayableError, RecordedCall, Recording
from tracetape.spans.encode import dumps, to_jsonable


def stored(value: Any) -> Any:
    """What capture keeps of ``value``, read back."""
    return json.loads(dumps(to_jsonable(value)))


def test_a_chat_response_revives_with_its_role_and_tool_calls():
    calls_kw = {"tool_calls": [{"name": "add", "args": {"a": 1}, "id": "c1"}]}
    message = ChatMessage(role="assistant", content="", additional_kwargs=calls_kw)
    response = ChatResponse(message=message, raw={"usage": {"prompt_tokens": 3}})
    value = stored(response)
    assert value["message"]["role"] == "MessageRole.ASSISTANT"  # what to_jsonable keeps

    revived = payloads.model_response(value, chat=True)

    assert revived.message.role.value == "assistant"
    assert revived.message.additional_kwargs == calls_kw
    assert revived.raw == {"usage": {"prompt_tokens": 3}}


def test_a_completion_becomes_one_whole_chunk():
    revived = payloads.model_response(stored(CompletionResponse(text="a b c", delta="c")), False)
    assert payloads.as_chunk(revived).delta == "a b c"
    chat = ChatResponse(message=ChatMessage(role="assistant", content="x y"), delta="y")
    assert payloads.as_chunk(chat).delta == "x y"


def test_nodes_revive_as_node_with_score():
    node = TextNode(text="Cats sleep.", id_="n1", metadata={"topic": "cats"})
    value = stored([NodeWithScore(node=node, score=0.25).to_dict()])

    (revived,) = payloads.nodes(value)

    assert isinstance(revived.node, TextNode)
    assert (revived.node.node_id, revived.node.text, revived.score) == ("n1", "Cats sleep.", 0.25)
    assert revived.node.metadata == {"topic": "cats"}


def test_root_arguments_revive_query_bundles_and_messages():
    value = stored(
        {
            "str_or_query_bundle": QueryBundle(query_str="q?"),
            "chat_history": [ChatMessage(role="user", content="hi")],
            "top": 2,
        }
    )
    args = payloads.arguments(value)
    assert isinstance(args["str_or_query_bundle"], QueryBundle)
    assert args["str_or_query_bundle"].query_str == "q?"
    assert [(m.role.value, m.content) for m in args["chat_history"]] == [("user", "hi")]
    assert args["top"] == 2


def test_a_chat_request_reads_as_lines():
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="line one\nline two"),
    ]
    digest, request = calls.model_request(ModelCall(True, False, (messages,), {"tools": []}))
    assert len(digest) == 64
    assert calls.model_lines(request, {"temperature": 0}) == [
        "system: Be brief.",
        "user: line one",
        "  line two",
        '[params] {"temperature":0}',
    ]


def test_a_tool_output_revives_with_its_recorded_error():
    from llama_index.core.tools import ToolOutput

    failed = ToolOutput(
        tool_name="add", content="Error: boom", raw_input={"kwargs": {"a": 1}}, is_error=True
    )
    revived = payloads.tool_output(stored(failed), ("ValueError", "boom"))
    assert (revived.tool_name, revived.content, revived.is_error) == ("add", "Error: boom", True)
    assert isinstance(revived.exception, ValueError) and str(revived.exception) == "boom"
    assert revived.raw_input == {"kwargs": {"a": 1}}


def test_a_streamed_chat_without_its_model_call_is_refused():
    now = dt.datetime.now(dt.UTC)
    llm = RecordedCall("s1", "llm", "LLM.stream_chat", 0, now, now, {}, ("a",), ("b",))
    without = Recording("t" * 32, "r", {}, calls=[])
    with pytest.raises(NotReplayableError, match="streamed chat"):
        refuse_unrecorded_stream("stream_chat", without)
    refuse_unrecorded_stream("chat", without)  # a plain chat's trace holds its call
    refuse_unrecorded_stream("stream_chat", Recording("t" * 32, "r", {}, calls=[llm]))
