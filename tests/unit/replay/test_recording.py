"""Stored payloads revive as LangChain objects, or fail as not replayable."""

from __future__ import annotations

import pytest
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from tracetape.replay import NotReplayableError
from tracetape.replay.recording import load_payload


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
