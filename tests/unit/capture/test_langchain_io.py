"""Chain inputs and outputs: what is shown is capped, what replay keeps is whole."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from tracetape.capture.langchain.io import io_json, replay_payload
from tracetape.capture.langchain.messages import MessageCodec


def test_a_long_conversation_is_kept_whole_for_replay_and_capped_for_display():
    messages = [
        HumanMessage(f"question {i}") if i % 2 == 0 else AIMessage(f"answer {i}")
        for i in range(1200)
    ]
    state = {"messages": messages, "notes": {f"k{i}": i for i in range(700)}}
    codec = MessageCodec(capture_content=True)

    kept = json.loads(replay_payload(state, codec))
    shown = json.loads(io_json(state, codec))

    assert len(kept["messages"]) == 1200 and len(kept["notes"]) == 700
    assert kept["messages"][-1]["kwargs"]["content"] == "answer 1199"
    assert len(shown["messages"]) == 500 and len(shown["notes"]) == 500


def test_plain_system_and_user_messages_are_encoded_once_per_content():
    # A prompt template formats its system message anew on every call.
    codec = MessageCodec(capture_content=True)
    first = codec.encode(SystemMessage("You are a support agent."))

    again = codec.encode(SystemMessage("You are a support agent."))

    assert again is first
    assert again == MessageCodec(capture_content=True).encode(
        SystemMessage("You are a support agent.")
    )


@pytest.mark.parametrize(
    "other",
    [
        HumanMessage("You are a support agent."),
        SystemMessage("You are a support agent.", name="policy"),
        SystemMessage("You are a support agent.", id="m-1"),
        SystemMessage("You are a support agent.", additional_kwargs={"cache": True}),
        SystemMessage("You are a support agent.", note="an extra field"),
        SystemMessage("You are a different agent."),
    ],
    ids=["role", "name", "id", "kwargs", "extra", "text"],
)
def test_a_message_differing_in_anything_kept_is_encoded_for_itself(other):
    codec = MessageCodec(capture_content=True)
    codec.encode(SystemMessage("You are a support agent."))

    assert codec.encode(other) == MessageCodec(capture_content=True).encode(other)


def test_a_history_shown_again_is_joined_once_and_a_changed_one_anew():
    history = [HumanMessage("what is 2 + 2?"), AIMessage("4"), HumanMessage("and 3 + 3?")]
    codec = MessageCodec(capture_content=True)
    fresh = MessageCodec(capture_content=True)

    shown = io_json({"messages": history}, codec)
    listed = codec.encode_list(history)
    again = codec.encode_list(list(history))  # another list of the same messages
    grown = [*history, AIMessage("6")]
    replaced = [history[0], AIMessage("5"), history[2]]

    assert again is listed and listed is not None
    assert shown == io_json({"messages": history}, fresh)
    assert io_json({"messages": grown}, codec) == io_json({"messages": grown}, fresh)
    assert io_json({"messages": replaced}, codec) == io_json({"messages": replaced}, fresh)
    assert (
        json.loads(io_json({"messages": replaced}, codec))["messages"][1]["parts"][0]["content"]
        == "5"
    )
    assert replay_payload({"messages": history}, codec) == replay_payload(
        {"messages": history}, fresh
    )
    assert codec.encode_list([history[0], "not a message"]) is None
    assert codec.encode_list([]) is None
