"""`Recordings`: each trace a tape replays is read and revived once, not once per replay.

The counterfactual loop replays one trace again and again (edit the prompt, replay,
edit again), and reading a recording (two queries over the views, every answer revived
as LangChain objects) costs about half the untraced run of the app it replays. A trace
is read only once its root span has been written, which happens when the root ends,
after its children; from then on it does not change, so its `Recording` is kept, in a
small LRU bounded by count and by payload size.

A trace that ended a moment ago in this process may still wait, whole or in part, in
the queue of the background writer: when the read finds no such trace, or finds it
without its root, the queue is written and the trace read once more.

What a replay may change is never shared: every answer is deep-copied when played
(`Recording.answer`), and each `get` gives its own copy of the root input, which the app
is invoked on. `forget` drops what is kept; the tape calls it when it deletes traces. A
trace another process deletes stays replayable here until this tape is reopened.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable

from tracetape.errors import NotFoundError
from tracetape.replay.recording import NotReplayableError, Query, Recording, read

_KEEP = 8
"""Recordings kept per tape."""
_KEEP_CHARS = 16_000_000
"""A recording whose payload text is longer is read afresh on every replay."""


class Recordings:
    """The recordings of one tape, read through ``query``; ``flush`` writes what this
    process still holds queued (a trace that ended a moment ago may wait there)."""

    def __init__(self, query: Query, flush: Callable[[], object]) -> None:
        self._query = query
        self._flush = flush
        self._kept: OrderedDict[str, Recording] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, trace_id: str) -> Recording:
        """The recording of ``trace_id`` (raises `NotFoundError`, `NotReplayableError`)."""
        key = trace_id.strip().lower()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
        if kept is None:
            kept = self._read(key)
            if sum(map(len, kept.blobs.values())) > _KEEP_CHARS:
                return kept  # too big to hold: this replay's own
            with self._lock:
                self._kept[key] = kept
                while len(self._kept) > _KEEP:
                    self._kept.popitem(last=False)
        return dataclasses.replace(kept, root_input=copy.deepcopy(kept.root_input))

    def forget(self) -> None:
        """Drop every kept recording (traces were deleted)."""
        with self._lock:
            self._kept.clear()

    def _read(self, trace_id: str) -> Recording:
        try:
            return read(self._query, trace_id)
        except (NotFoundError, NotReplayableError):
            # It may have ended a moment ago, its root (or all of it) still queued.
            self._flush()
            return read(self._query, trace_id)
