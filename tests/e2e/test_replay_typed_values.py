"""Values JSON would give back as another type reach the replayed app as they were:
datetimes, decimals, bytes, tuples, sets and pydantic models, in a root input and in
what a tool returns to the code that called it."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import sys
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from pydantic import BaseModel

from tracetape.replay import NotReplayableError
from tracetape.tape import Tape


class Weather(BaseModel):
    city: str
    temp: float
    seen: dt.datetime


@tool
def forecast(city: str) -> Weather:
    """The weather in a city."""
    SEEN.append(city)
    return Weather(city=city, temp=3.5, seen=dt.datetime(2026, 5, 6, 7, 8, 9))


SEEN: list[str] = []
VALUES: dict[str, Any] = {
    "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    "day": dt.date(2026, 1, 2),
    "price": decimal.Decimal("2.10"),
    "raw": b"\x00\x01 plain",
    "pair": ("a", 1),
    "tags": {"x"},
    "weather": Weather(city="Bergen", temp=1.0, seen=dt.datetime(2026, 1, 1)),
}


def _types(value: Any) -> Any:
    return {k: type(v).__name__ for k, v in value.items()}


def app() -> Any:
    def use(inputs: dict[str, Any]) -> str:
        weather = forecast.invoke({"city": inputs["weather"].city})
        return json.dumps(
            {"types": _types(inputs), "temp": weather.temp, "seen": weather.seen.isoformat()}
        )

    return RunnableLambda(use, name="typed")


def test_typed_values_reach_the_replayed_app_as_they_were(tape: Tape) -> None:
    recorded = app().invoke(VALUES, config={"callbacks": [tape.langchain()]})
    tape.flush()
    SEEN.clear()

    replay = tape.replay(str(tape.traces().trace_id[0]), app=app())

    assert SEEN == []  # the tool was answered from the tape, as a Weather
    assert replay.output == recorded and replay.same_output
    assert json.loads(replay.output)["types"] == _types(VALUES)


def test_secret_bytes_are_redacted_like_text(tape: Tape) -> None:
    secret = b"token sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    RunnableLambda(lambda v: len(v["raw"])).invoke(
        {"raw": secret}, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    contents = [json.loads(c) for c in tape.sql("SELECT content::VARCHAR AS c FROM blobs").c]
    kept = [
        base64.b64decode(c["raw"]["kwargs"]["base64"])
        for c in contents
        if isinstance(c, dict) and "raw" in c
    ]
    assert kept and all(b"sk-proj-abcdefghij" not in k and b"REDACTED" in k for k in kept)


def test_a_model_whose_class_is_not_imported_is_not_replayable(
    tape: Tape, monkeypatch: pytest.MonkeyPatch
) -> None:
    app().invoke(VALUES, config={"callbacks": [tape.langchain()]})
    tape.flush()
    monkeypatch.delattr(sys.modules[__name__], "Weather")  # as if never imported

    with pytest.raises(NotReplayableError, match="whose class is not imported"):
        tape.replay(str(tape.traces().trace_id[0]), app=app())
