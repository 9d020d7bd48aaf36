"""What diff compares of a step's output: generated ids left out, messages as text."""

from __future__ import annotations

from tracetape.diff.steps import output_text, stable


def test_generated_ids_are_left_out_and_recorded_ids_kept() -> None:
    value = {
        "messages": [
            {"id": "run-01a2477d-625a-779e-ae24-5915362293f9", "content": "hi"},
            {"id": "lc_run--6d1c0f6e-0b7f-4d53-9d0b-3f0b1f0e2c11", "tool_call_id": "call_Ab12"},
        ],
        "documents": [{"id": "doc-cats", "content": "Cats sleep."}],
        "order": {"id": "A-1042"},
    }

    assert stable(value) == {
        "messages": [{"content": "hi"}, {}],
        "documents": [{"id": "doc-cats", "content": "Cats sleep."}],
        "order": {"id": "A-1042"},
    }


def test_messages_read_as_role_and_text_and_tool_calls_without_their_ids() -> None:
    messages = [
        {"role": "assistant", "parts": [{"type": "text", "content": "Let me add."}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_9", "name": "add", "arguments": {"a": 1}}],
        },
    ]

    assert output_text(messages) == (
        'assistant: Let me add.\nassistant tool_call: {"arguments": {"a": 1}, "name": "add"}'
    )
    assert output_text("plain") == "plain"
    assert output_text(None) == ""
    assert output_text({"b": 1, "a": [1, 2]}) == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}'
