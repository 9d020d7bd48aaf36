"""The LlamaIndex extractors: messages, usage, providers, template versions, content off."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.llms import MockLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.prompts import ChatPromptTemplate, PromptTemplate

import tracetape
from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import components, extract, handlers
from tracetape.capture.llamaindex.span_handler import strict_failures
from tracetape.spans import semconv
from tracetape.spans.outcome import provider_error_attributes
from tracetape.spans.recorder import current_capture_span


def test_assistant_message_with_tool_calls_is_semconv_shaped():
    message = ChatMessage(role=MessageRole.ASSISTANT, content="Let me add.")
    calls = [ToolSelection(tool_id="c1", tool_name="add", tool_kwargs={"a": 1})]
    assert extract.semconv_message(message, True, calls) == {
        "role": "assistant",
        "parts": [
            {"type": "text", "content": "Let me add."},
            {"type": "tool_call", "id": "c1", "name": "add", "arguments": {"a": 1}},
        ],
    }
    hidden = extract.semconv_message(message, False, calls)
    assert hidden["parts"][0]["content"] is None and hidden["parts"][1]["arguments"] is None


def test_tool_result_message_and_openai_shaped_calls():
    result = ChatMessage(role="tool", content="2", additional_kwargs={"tool_call_id": "c1"})
    assert extract.semconv_message(result, True)["parts"] == [
        {"type": "tool_call_response", "id": "c1", "response": "2"}
    ]
    openai_call = {"id": "c2", "function": {"name": "mul", "arguments": '{"a": 2}'}}
    message = ChatMessage(
        role="assistant", content="", additional_kwargs={"tool_calls": [openai_call]}
    )
    assert extract.semconv_message(message, True)["parts"] == [
        {"type": "tool_call", "id": "c2", "name": "mul", "arguments": '{"a": 2}'}
    ]


def test_usage_from_additional_kwargs_or_raw_usage_object():
    openai_style = ChatResponse(
        message=ChatMessage(content="x"),
        additional_kwargs={"prompt_tokens": 3, "completion_tokens": 4},
    )
    assert extract.usage_attributes(openai_style) == {
        semconv.USAGE_INPUT_TOKENS: 3,
        semconv.USAGE_OUTPUT_TOKENS: 4,
    }
    raw = SimpleNamespace(
        usage=SimpleNamespace(input_tokens=5, output_tokens=6), model="claude-x", id="msg_1"
    )
    anthropic_style = ChatResponse(message=ChatMessage(content="x"), raw=raw)  # type: ignore[arg-type]
    assert extract.usage_attributes(anthropic_style) == {
        semconv.USAGE_INPUT_TOKENS: 5,
        semconv.USAGE_OUTPUT_TOKENS: 6,
    }
    assert extract.response_attributes(anthropic_style) == {
        semconv.RESPONSE_MODEL: "claude-x",
        semconv.RESPONSE_ID: "msg_1",
    }


def test_provider_and_model_of_core_models():
    attrs = extract.model_attributes(MockLLM())
    assert attrs[semconv.PROVIDER_NAME] == "llamaindex"
    assert attrs[semconv.MODEL_CLASS] == "llama_index.core.llms.mock.MockLLM"
    fake = type("OpenAI", (), {"__module__": "llama_index.llms.openai.base"})()
    assert extract.provider(fake) == "openai"


def test_error_attributes_follow_the_cause_chain():
    inner = RuntimeError("429")
    inner.status_code = 429  # type: ignore[attr-defined]
    inner.request_id = "req-1"  # type: ignore[attr-defined]
    try:
        raise ValueError("wrapped") from inner
    except ValueError as exc:
        attrs = provider_error_attributes(exc)
    assert attrs == {semconv.HTTP_STATUS_CODE: 429, semconv.MODEL_REQUEST_ID: "req-1"}


def test_template_hash_versions_the_template_not_the_values(tape):
    recorder = tape.recorder
    template = PromptTemplate("Answer {question} from {context}")
    one = components.prompt_attributes(template, {"question": "a", "context": "b"}, recorder)
    two = components.prompt_attributes(template, {"question": "c", "context": "d"}, recorder)
    edited = components.prompt_attributes(PromptTemplate("Answer {question}!"), {}, recorder)
    assert one[semconv.PROMPT_HASH] == two[semconv.PROMPT_HASH] != edited[semconv.PROMPT_HASH]
    assert one[semconv.PROMPT_VARIABLES] == ("question", "context")
    assert json.loads(one[semconv.PROMPT_VALUES]) == {"question": "a", "context": "b"}
    chat = ChatPromptTemplate.from_messages([("system", "Be brief."), ("user", "{question}")])
    parts = components.template_parts(chat)
    assert parts == [
        {"role": "system", "template": "Be brief."},
        {"role": "user", "template": "{question}"},
    ]


@pytest.fixture
def quiet_tape(tmp_path: Any) -> Any:
    opened = tracetape.open(tmp_path / "tape.duckdb", capture_content=False)
    yield opened
    opened.close()


def test_content_off_records_shapes_not_text(quiet_tape):
    index = fakes.index()
    pair = handlers(quiet_tape.recorder)
    pair.attach()
    strict_failures().clear()
    try:
        index.as_query_engine(similarity_top_k=2).query("secret question")
    finally:
        pair.detach()
    assert strict_failures() == [] and pair.open_spans == 0
    # Back to no capture span once the query returned.
    assert current_capture_span.get() is None
    quiet_tape.flush()
    text = quiet_tape.sql("select attributes::VARCHAR a from spans")["a"].str.cat()
    assert "secret question" not in text and "Cats sleep" not in text
    kinds = set(quiet_tape.sql("select kind from spans")["kind"])
    assert {"chain", "retriever", "embedding", "prompt", "llm"} <= kinds
