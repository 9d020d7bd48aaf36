"""The spool: a folder of Parquet segments beside the tape, one writer file at a time.

Every recording process appends here without touching the DuckDB file, so another
process holding that file (a notebook, a second agent) never delays a recording. Each
segment is written under a temporary name and renamed into place, so readers never
see half a file. Folding (`tracetape.store.fold`) moves segments into DuckDB tables.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tracetape.store.schema.tables import SEGMENT_SCHEMAS
from tracetape.store.segment_keys import KEYS

SCHEMA_FILE = "_schema.parquet"
_counter = itertools.count()


def spool_dir(tape_path: Path) -> Path:
    """``.tracetape/tape.duckdb`` -> ``.tracetape/tape.spool``."""
    return tape_path.with_name(tape_path.stem + ".spool")


_current_markers: dict[Path, int] = {}
"""Schema files this process found (or made) current, with their modification time:
each is read once, and again only if it was written since."""


def ensure(spool: Path) -> None:
    """Create the spool folders, each with an empty segment that fixes its schema.

    A schema file an older version wrote (before a column was added) is written again:
    the views read the segments by column name, and the schema file holds every column.
    """
    for folder, schema in SEGMENT_SCHEMAS.items():
        path, marker = _folders(spool)[folder]
        try:
            written = marker.stat().st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            written = None
            path.mkdir(parents=True, exist_ok=True)
        if written is not None and _current_markers.get(marker) == written:
            continue
        if written is None or not _holds(marker, schema):
            _write_atomic(schema.empty_table(), marker)
            written = marker.stat().st_mtime_ns
        _current_markers[marker] = written


def _holds(marker: Path, schema: pa.Schema) -> bool:
    try:
        return set(schema.names) <= set(pq.read_schema(marker).names)
    except (OSError, pa.ArrowInvalid):
        return False  # unreadable: written again


def _write_atomic(table: pa.Table, target: Path) -> None:
    # Unique per call: two threads (or processes) may write the same target at once.
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{next(_counter)}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd", compression_level=1)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_segment(spool: Path, folder: str, table: pa.Table) -> Path:
    """Write ``table`` as a new segment of ``folder``; returns its path."""
    name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}.parquet"
    target = spool / folder / name
    try:
        _write_atomic(table, target)
    except FileNotFoundError:
        ensure(spool)
        _write_atomic(table, target)
    KEYS.note(target, table)
    return target


_listed: dict[Path, tuple[tuple[str, ...], list[Path]]] = {}
"""The last listing of each folder: the same names give the same Path objects, so a
reader comparing listings (every query) compares them by identity."""


@functools.lru_cache(maxsize=64)
def _folders(spool: Path) -> dict[str, tuple[Path, Path]]:
    """Each spool folder and its schema file (pathlib joins cost ~5 µs each, and a
    reader lists the folders on every query)."""
    return {folder: (spool / folder, spool / folder / SCHEMA_FILE) for folder in SEGMENT_SCHEMAS}


def schema_file(spool: Path, folder: str) -> Path:
    """The (empty) Parquet file that fixes ``folder``'s schema for the views."""
    return _folders(spool)[folder][1]


def segments(spool: Path, folder: str) -> list[Path]:
    """Finished segments of ``folder``, oldest first (the schema file excluded)."""
    path = _folders(spool)[folder][0]
    try:
        names = tuple(
            sorted(
                entry.name
                for entry in os.scandir(path)
                if entry.name.endswith(".parquet") and not entry.name.startswith(("_", "."))
            )
        )
    except (FileNotFoundError, NotADirectoryError):
        # No spool yet, or a broken one: nothing to fold; the exporter reports the
        # failed writes and keeps their spans queued.
        return []
    last = _listed.get(path)
    if last is not None and last[0] == names:
        return list(last[1])
    found = [path / name for name in names]
    _listed[path] = (names, found)
    return list(found)
