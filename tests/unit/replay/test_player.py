"""`Player.finish`: what recorded calls a re-run never made mean, for each way of replaying.

The rule: they are always listed (one divergence per kind, calls that would have run
for real left out); they raise only under ``on_divergence="stop"`` with the model pinned.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tracetape.replay.player import OnDivergence, Player
from tracetape.replay.recording import RecordedCall, Recording
from tracetape.replay.result import ReplayDivergence
from tracetape.spans import semconv

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def call(position: int, kind: str, name: str) -> RecordedCall:
    start = T0 + dt.timedelta(seconds=position)
    attributes = {semconv.TOOL_NAME: name} if kind == "tool" else {}
    return RecordedCall(
        span_id=f"{position:016x}",
        kind=kind,
        name=name,
        position=position,
        start=start,
        end=start + dt.timedelta(milliseconds=500),
        attributes=attributes,
        inputs=(),
        outputs=(),
    )


def recording() -> Recording:
    """An agent's loop: model, lookup_order, model, search_docs, model, retriever."""
    calls = [
        call(0, "llm", "ChatOpenAI"),
        call(1, "tool", "lookup_order"),
        call(2, "llm", "ChatOpenAI"),
        call(3, "tool", "search_docs"),
        call(4, "llm", "ChatOpenAI"),
        call(5, "retriever", "VectorStoreRetriever"),
    ]
    return Recording("0" * 32, "f" * 16, None, calls)


def unmade(live: tuple[str, ...], on_divergence: OnDivergence = "stop") -> list[tuple[str, str]]:
    """(kind, reason) of each divergence `finish` lists, none of the calls made."""
    player = Player(recording(), live, on_divergence)
    player.finish()
    return [(d.kind, d.reason) for d in player.divergences]


@pytest.mark.parametrize("live", [(), ("search_docs",), ("retriever",), ("tool",)])
def test_with_the_model_pinned_calls_not_made_stop_the_replay(live):
    player = Player(recording(), live, "stop")

    with pytest.raises(ReplayDivergence) as caught:
        player.finish()

    assert caught.value.divergence is player.divergences[0]
    assert caught.value.divergence.kind == "llm" and player.stopped


def test_with_the_model_live_they_are_listed_and_the_run_stands():
    assert unmade(("llm", "search_docs")) == [
        ("tool", "the re-run ended without making 1 recorded tool call(s): lookup_order"),
        (
            "retriever",
            "the re-run ended without making 1 recorded retriever call(s): VectorStoreRetriever",
        ),
    ]


def test_under_live_they_are_listed_whatever_is_pinned():
    listed = unmade((), "live")
    assert [kind for kind, _ in listed] == ["llm", "tool", "retriever"]
    assert listed[0][1] == "the re-run ended without making 3 recorded llm call(s): " + ", ".join(
        ["ChatOpenAI"] * 3
    )
    assert listed[1][1].endswith("2 recorded tool call(s): lookup_order, search_docs")


def test_calls_that_would_have_run_for_real_are_not_counted():
    assert unmade(("llm", "tool", "retriever")) == []
    assert [kind for kind, _ in unmade(("llm", "retriever", "lookup_order"))] == ["tool"]


def test_after_going_live_the_model_and_retrievers_left_out_are_not_counted():
    player = Player(recording(), (), "live")
    player.gone_live = True  # as after a divergence under "live"

    player.finish()

    assert [d.kind for d in player.divergences] == ["tool"]


def test_a_run_that_made_every_call_has_nothing_to_report():
    player = Player(recording(), ("llm", "tool", "retriever"))
    player.finish()
    assert player.divergences == [] and not player.stopped
