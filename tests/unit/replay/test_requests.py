"""Request keys ignore run-specific message ids; the diff shows what changed."""

from __future__ import annotations

import difflib

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from tracetape.replay import requests


def test_the_key_ignores_message_ids_but_not_content():
    a = [requests.live_message(HumanMessage("hi", id="1"))]
    b = [requests.live_message(HumanMessage("hi", id="2"))]
    c = [requests.live_message(HumanMessage("hello", id="1"))]
    assert requests.model_key(a, None, None) == requests.model_key(b, None, None)
    assert requests.model_key(a, None, None) != requests.model_key(c, None, None)
    assert requests.model_key(a, {"temperature": 0}, None) != requests.model_key(a, None, None)


def test_request_lines_read_like_a_conversation():
    messages = [
        requests.live_message(SystemMessage("Be exact.")),
        requests.live_message(
            AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1"}])
        ),
    ]
    lines = requests.request_lines(messages, {"model": "gpt-4o"}, None)
    assert lines == [
        "system: Be exact.",
        "ai: ",
        '  -> add({"a":1}) id=c1',
        '[params] {"model":"gpt-4o"}',
    ]
    diff = "\n".join(difflib.unified_diff(lines[:1], ["system: Be vague."], lineterm=""))
    assert "-system: Be exact." in diff and "+system: Be vague." in diff


def test_outputs_compare_by_text_and_tool_calls_only():
    def state(call_id: str, response_id: str) -> object:
        from langchain_core.load import dumpd

        messages = [
            HumanMessage("add 1 and 2", id="u-1"),
            AIMessage(
                "",
                tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": call_id}],
                response_metadata={"id": response_id},
                id=f"run-{response_id}",
            ),
        ]
        return {"messages": [dumpd(m) for m in messages], "step": 2}

    assert requests.comparable(state("call_1", "r1")) == requests.comparable(state("call_2", "r2"))
    other = state("call_1", "r1")
    other["messages"][1]["kwargs"]["tool_calls"][0]["args"] = {"a": 1, "b": 3}  # type: ignore[index]
    assert requests.comparable(other) != requests.comparable(state("call_1", "r1"))
