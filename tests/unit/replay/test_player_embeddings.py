"""`Player.embedding` and what capture keeps of an embedding call for it.

The end-to-end path (a real ``OpenAIEmbeddings`` against the loopback server) is in
``tests/e2e/test_replay_embeddings.py``; these pin the edges: texts too long to keep,
vectors not kept, recordings made before embedding calls were kept.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tracetape.capture.langchain.embeddings import texts_json, vectors_json
from tracetape.replay.player import Player
from tracetape.replay.recording import RecordedCall, Recording
from tracetape.replay.result import ReplayDivergence
from tracetape.spans import semconv
from tracetape.spans.encode import content_hash
from tracetape.spans.vectors import unpack

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
VECTOR = [0.25, 0.5, 0.75]


STORED = vectors_json(VECTOR) or ""
STORED_DIGEST = content_hash(STORED)


def embedding_call(texts: object, *, kept: bool = True, kept_vectors: bool = True) -> RecordedCall:
    text = texts_json(texts)
    return RecordedCall(
        span_id="e" * 16,
        kind="embedding",
        name="embeddings text-embedding-3-small",
        position=0,
        start=T0,
        end=T0 + dt.timedelta(milliseconds=50),
        attributes={semconv.EMBEDDING_METHOD: "embed_query"},
        inputs=(content_hash(text),) if kept else (),
        outputs=(STORED_DIGEST,) if kept_vectors else (),
    )


def recording(*calls: RecordedCall) -> Recording:
    found = Recording("0" * 32, "f" * 16, None, list(calls))
    found.blobs[STORED_DIGEST] = STORED
    for c in calls:
        if c.inputs:
            found.blobs[c.inputs[0]] = texts_json("When do I get my money back?")
    return found


def test_the_same_texts_are_answered_from_the_tape_as_a_copy():
    player = Player(recording(embedding_call("When do I get my money back?")))

    answer = player.embedding(None, "embed_query", "When do I get my money back?")

    assert answer == (VECTOR,)
    assert answer is not None and answer[0] is not VECTOR  # the app may change it
    assert (player.from_tape, player.ran_live) == (1, 0)


def test_other_texts_diverge_naming_both():
    player = Player(recording(embedding_call("When do I get my money back?")))

    with pytest.raises(ReplayDivergence) as raised:
        player.embedding(None, "embed_query", "Where is my parcel?")

    divergence = raised.value.divergence
    assert divergence.kind == "embedding"
    assert divergence.recorded == ('embed_query("When do I get my money back?")',)
    assert divergence.requested == ('embed_query("Where is my parcel?")',)


def test_texts_too_long_to_keep_are_matched_by_place_and_embedded_again():
    player = Player(recording(embedding_call("long", kept=False, kept_vectors=False)))

    assert player.embedding(None, "embed_query", "anything at all") is None
    assert (player.from_tape, player.ran_live) == (0, 1)  # run, not answered
    player.finish()
    assert player.divergences == []


def test_a_recording_without_embedding_calls_lets_them_run_for_real():
    # A trace recorded before embedding calls were kept: they ran live then, and do now.
    player = Player(recording())

    assert player.embedding(None, "embed_query", "When do I get my money back?") is None
    assert (player.from_tape, player.ran_live) == (0, 1)
    assert player.divergences == []


def test_live_embeddings_take_their_recorded_place():
    player = Player(recording(embedding_call("When do I get my money back?")), ("embedding",))

    assert player.embedding(None, "embed_query", "When do I get my money back?") is None
    player.finish()
    assert player.divergences == []
    assert player.ran_live == 1


@pytest.mark.parametrize(
    "result",
    [[0.5, -1.25, 3e-07], [[0.5, 1.0], [2.0, 0.1]], [], [1, 2]],
    ids=["query", "documents", "empty", "ints"],
)
def test_vectors_are_stored_exactly(result):
    stored = vectors_json(result)

    assert stored is not None
    assert unpack(json.loads(stored)) == result


@pytest.mark.parametrize(
    "result",
    [[object()], "not vectors", [[0.0] * 1536] * 50, [[1.0, 2.0], [3.0]], [[1.0], "x"]],
    ids=["objects", "text", "a-corpus", "ragged", "mixed"],
)
def test_what_is_not_plain_vectors_of_bounded_size_is_not_kept(result):
    assert vectors_json(result) is None
