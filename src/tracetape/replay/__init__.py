"""Replay a recorded trace: re-run the app with model, tool and retriever calls answered
from the tape, report where the re-run diverges, pin what runs for real.

Use it through `Tape.replay` / `Tape.areplay`.
"""

from tracetape.replay.recording import NotReplayableError
from tracetape.replay.result import Divergence, Replay, ReplayDivergence

__all__ = ["Divergence", "NotReplayableError", "Replay", "ReplayDivergence"]
