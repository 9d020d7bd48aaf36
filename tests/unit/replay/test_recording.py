"""Stored payloads revive as LangChain objects, or fail as not replayable."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, ToolMessage
from pydantic import BaseModel

from tracetape.replay import NotReplayableError
from tracetape.replay.recording import load_payload, revive
from tracetape.spans.encode import dumps


class Sum(BaseModel):
    total: int


def test_a_structured_output_s_parsed_object_is_revived_from_its_json():
    stored = dumpd(AIMessage('{"total": 3}', additional_kwargs={"parsed": Sum(total=3)}))
    assert stored["kwargs"]["additional_kwargs"]["parsed"]["type"] == "not_implemented"

    message = load_payload(stored)

    assert message.additional_kwargs["parsed"] == {"total": 3}
    plain = load_payload(dumpd(AIMessage("no json", additional_kwargs={"parsed": Sum(total=1)})))
    assert "parsed" not in plain.additional_kwargs


def test_a_payload_holding_an_unserialisable_object_is_not_replayable():
    stored = dumpd({"result": Sum(total=3)})
    with pytest.raises(NotReplayableError, match=r"holds Sum\(total=3\)"):
        load_payload(stored)


# -- `revive`: plain messages and documents are built directly, the rest by the loader --
ANSWERS = [
    AIMessage(
        "Calling a tool.",
        tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1"}],
        usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"},
        id="run-1",
    ),
    ToolMessage("3", tool_call_id="call_1", name="add", artifact={"raw": [1, 2]}),
    [Document("Cats sleep 16h.", id="d1", metadata={"source": "a.md", "score": 0.9})],
    # User data with an "lc" key is escaped by dumpd: only the loader unescapes it.
    AIMessage("escaped", additional_kwargs={"payload": {"lc": 1, "type": "secret"}}),
]


@pytest.mark.parametrize("value", ANSWERS, ids=["ai", "tool", "documents", "escaped"])
def test_revive_gives_what_langchain_s_loader_gives(value):
    stored = dumpd(value)
    text = dumps(stored)

    assert revive(text) == load(stored, allowed_objects="core")
    assert revive(text) == value


def test_a_serialised_secret_is_never_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-should-never-appear")
    text = dumps(
        {
            "lc": 1,
            "type": "constructor",
            "id": ["langchain", "schema", "messages", "AIMessage"],
            "kwargs": {
                "content": "x",
                "additional_kwargs": {"k": {"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}},
            },
        }
    )

    message = revive(text)

    assert "sk-live" not in repr(message)
