"""Replay a recorded trace: re-run the app with model, tool, retriever and embedding
calls answered from the tape, report where the re-run diverges, pin what runs for real, resume a
LangGraph graph at a recorded step; or send one recorded model call again.

Use it through `Tape.replay` / `Tape.areplay` / `Tape.rerun`.
"""

from tracetape.replay.checkpoints import CheckpointNotFoundError
from tracetape.replay.recording import NotReplayableError
from tracetape.replay.result import Divergence, Replay, ReplayDivergence, Rerun

__all__ = [
    "CheckpointNotFoundError",
    "Divergence",
    "NotReplayableError",
    "Replay",
    "ReplayDivergence",
    "Rerun",
]
