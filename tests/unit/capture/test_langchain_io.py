"""Chain inputs and outputs: what is shown is capped, what replay keeps is whole."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, HumanMessage

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
