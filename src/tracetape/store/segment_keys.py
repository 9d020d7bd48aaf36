"""Which traces and payloads each spool segment holds, so that a read of one trace can
leave out the segments that hold none of it.

A view over the spool reads every unfolded segment: DuckDB opens each file, even when
its statistics rule all of its rows out (~0.2 ms a file, more after the process did
other work). A replay, `Tape.trace` or a diff reads the rows of one or two traces, and
those are usually folded long ago while the agent keeps spooling new segments.

A segment is immutable and its name unique (`tracetape.store.spool.write_segment`:
nanosecond clock, process id, counter), so what it holds is learned once per process:
from the table in memory when this process writes it, else by reading its key column
once. Keys are forgotten when their segment leaves the spool (folded).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger("tracetape")

KEY_COLUMNS = {"spans": "trace_id", "blobs": "hash"}
"""Spool folder -> the column a scoped read selects rows by."""
MAX_KNOWN = 10_000
"""Segments remembered per folder, the oldest forgotten first (a spool nobody folds)."""
_PRUNE_AT = 64
"""Remembered segments of a folder past which each new one also forgets those no longer
in the folder (folded by another process)."""


class SegmentKeys:
    """Segment folder -> segment file name -> the keys its rows hold (thread-safe)."""

    def __init__(self) -> None:
        self._keys: dict[Path, dict[str, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def note(self, segment: Path, table: pa.Table) -> None:
        """Remember the keys of a segment this process just wrote from ``table``."""
        column = KEY_COLUMNS.get(segment.parent.name)
        if column is None or column not in table.column_names:
            return
        keys = _keys(table.column(column))
        self._remember(segment.parent.resolve(), segment.name, keys)

    def forget(self, segments: Sequence[Path]) -> None:
        """Forget segments a fold removed."""
        folders = {parent: parent.resolve() for parent in {s.parent for s in segments}}
        with self._lock:
            for segment in segments:
                known = self._keys.get(folders[segment.parent])
                if known is not None:
                    known.pop(segment.name, None)

    def _remember(self, folder: Path, name: str, keys: frozenset[str]) -> None:
        with self._lock:
            known = self._keys.setdefault(folder, {})
            known[name] = keys
            if len(known) > MAX_KNOWN:  # a guard: what is listed below comes first
                del known[next(iter(known))]
            many = len(known) >= _PRUNE_AT
        if many:  # another process may have folded them: keep only what is still there
            try:
                present = set(os.listdir(folder))
            except OSError:
                return
            with self._lock:
                for gone in known.keys() - present:
                    del known[gone]

    def after_fork(self) -> None:
        """A forked child gets a fresh lock (another thread may have held it)."""
        self._lock = threading.Lock()

    def holding(
        self, folder: Path, segments: Sequence[Path], wanted: Collection[str]
    ) -> list[Path]:
        """Of the ``segments`` now in ``folder`` (resolved), those holding a row whose key
        is in ``wanted``, in order. A segment whose keys cannot be read is kept: the
        query then reads it (and fails or not) as it would unscoped."""
        column = KEY_COLUMNS[folder.name]
        wanted = wanted if isinstance(wanted, set | frozenset) else set(wanted)
        with self._lock:
            known = self._keys.setdefault(folder, {})
            for gone in known.keys() - {s.name for s in segments}:  # folded
                del known[gone]
            known = dict(known)
        kept: list[Path] = []
        for segment in segments:
            keys = known.get(segment.name)
            if keys is None:
                keys = self._read(segment, column)
                if keys is None:
                    kept.append(segment)
                    continue
            if not keys.isdisjoint(wanted):
                kept.append(segment)
        return kept

    def _read(self, segment: Path, column: str) -> frozenset[str] | None:
        try:
            keys = _keys(pq.read_table(segment, columns=[column]).column(column))
        except (OSError, pa.ArrowException) as exc:
            logger.debug("tracetape: cannot read the keys of %s: %s", segment, exc)
            return None
        self._remember(segment.parent, segment.name, keys)
        return keys


def _keys(column: pa.ChunkedArray) -> frozenset[str]:
    return frozenset(str(k) for k in column.unique().to_pylist() if k)


KEYS = SegmentKeys()
"""What this process knows of the segments it has seen, by folder."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: KEYS.after_fork())
