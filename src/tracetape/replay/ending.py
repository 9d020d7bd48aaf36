"""How a replay ends, for every kind of app: its `Replay`, and a divergence carrying it.

A LangChain and a LlamaIndex replay differ in how they run the app and judge its output;
they end alike. A divergence is re-raised with the `Replay` so far, also when the app
wrapped or swallowed it (a ToolNode turning errors into messages, a workflow re-raising a
step's error as its own, a retry); recorded calls the re-run never made are judged last.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, Protocol

from tracetape.replay.player import Player
from tracetape.replay.recording import Recording
from tracetape.replay.result import Replay, ReplayDivergence


class Marked(Protocol):
    """The replay's root marker: the id of the new trace, once it started."""

    @property
    def trace_id(self) -> str | None: ...


def result(player: Player, recording: Recording, mark: Marked, output: Any = None) -> Replay:
    """The `Replay` as it stands (``output`` None while the app has not returned)."""
    return Replay(
        output,
        mark.trace_id,
        recording.trace_id,
        player.divergences,
        from_tape=player.from_tape,
        ran_live=player.ran_live,
    )


@contextmanager
def stopping(player: Player, recording: Recording, mark: Marked) -> Generator[None]:
    """Re-raise a divergence with the partial `Replay`, also when the app wrapped or
    swallowed it."""
    try:
        yield
    except ReplayDivergence as exc:
        exc.replay = result(player, recording, mark)
        raise
    except Exception as exc:
        if not player.stopped:
            raise
        raise ReplayDivergence(player.divergences[0], result(player, recording, mark)) from exc
    if player.stopped:
        raise ReplayDivergence(player.divergences[0], result(player, recording, mark))


def finish(player: Player, ended: Replay) -> Replay:
    """``ended``, once the player has judged the recorded calls never made (a divergence
    it raises for them carries ``ended``)."""
    try:
        player.finish()
    except ReplayDivergence as exc:
        exc.replay = ended
        raise
    return ended
