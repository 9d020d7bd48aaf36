"""What a replay returns: `Replay`, and where it diverged: `Divergence`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from tracetape.errors import TracetapeError


@dataclass(frozen=True)
class Divergence:
    """Where a re-run first asked something the recording did not.

    ``span_id``, ``name`` and ``position`` name the recorded call that was expected
    (None when the recording had no further call of that kind); ``recorded`` and
    ``requested`` are the two requests as readable lines, ``diff`` their unified diff.
    """

    kind: str
    reason: str
    span_id: str | None = None
    name: str | None = None
    position: int | None = None
    recorded: tuple[str, ...] = ()
    requested: tuple[str, ...] = ()

    @property
    def diff(self) -> str:
        """Unified diff of the recorded request against the re-run's."""
        lines = difflib.unified_diff(
            list(self.recorded), list(self.requested), "recorded", "re-run", lineterm=""
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        where = f"{self.kind} call"
        if self.span_id is not None:
            where += f" #{self.position} {self.name!r} (recorded span {self.span_id})"
        text = f"replay diverged at {where}: {self.reason}"
        diff = self.diff
        return f"{text}\n{diff}" if diff else text


class ReplayDivergence(TracetapeError):
    """A replay stopped at a divergence, or ran to its end with the model pinned but
    without making recorded calls (the app changed). ``.divergence`` says where;
    ``.replay`` is the (partial) replay, recorded as its own trace."""

    def __init__(self, divergence: Divergence, replay: Any = None) -> None:
        super().__init__(str(divergence))
        self.divergence = divergence
        self.replay = replay


@dataclass
class Replay:
    """The result of `Tape.replay`: the app's output and the new trace's id.

    ``divergences`` lists, in the order found, where the re-run asked what the
    recording did not (with ``on_divergence="live"``) and the recorded calls it never
    made (when the model ran live, or with ``"live"``). ``from_tape`` and ``ran_live``
    count the model, tool, retriever and embedding calls answered from the recording and
    run for real; ``same_output`` says whether the output equals the recorded one: the same
    messages by class, text and tool calls (ids and response metadata differ from run
    to run); None when the recording kept no comparable output.
    """

    output: Any
    trace_id: str | None
    replay_of: str
    divergences: list[Divergence] = field(default_factory=list[Divergence])
    from_tape: int = 0
    ran_live: int = 0
    same_output: bool | None = None


@dataclass(frozen=True)
class Rerun:
    """The result of `Tape.rerun`: the recorded answer, ``n`` new ones and their traces.

    ``n_same`` counts the new answers equal to the recorded one: the same text and the
    same tool calls (names and arguments; call ids differ from run to run).
    """

    span_id: str
    recorded: Any
    outputs: list[Any]
    trace_ids: list[str | None]
    n_same: int

    @property
    def n(self) -> int:
        """How many times the call was sent."""
        return len(self.outputs)

    def __str__(self) -> str:
        return (
            f"rerun of span {self.span_id}: {self.n_same} of {self.n} answers equal the "
            "recorded one"
        )


class RecordedCallError(TracetapeError):
    """Raised in place of a recorded call that failed, when its exception type cannot be
    rebuilt (see `recorded_error`)."""


def recorded_error(error_type: str, message: str) -> Exception:
    """The exception a recorded call raised, rebuilt so the app handles it as it did.

    Only a builtin or an already imported class is rebuilt (nothing is imported from
    what a tape says); anything else becomes a `RecordedCallError`.
    """
    import builtins
    import sys

    module_name, _, name = error_type.rpartition(".")
    owner: object = builtins if not module_name else sys.modules.get(module_name)
    cls = getattr(owner, name, None) if owner is not None else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - a constructor with other arguments
            pass
    return RecordedCallError(f"{error_type}: {message}")
