"""When this process holds the tape's DuckDB file: a lock for its threads, cached readers.

A DuckDB file opened read-write by one process cannot be opened by any other, not even
read-only. So tracetape never keeps it open for long: writers (folding) open it for one
short transaction; readers keep one read-only connection between queries and close it
after a second idle, or as soon as this process writes. Both wait, with backoff, up to a
timeout while another process holds it, then raise `TapeLockedError`. A recording
process that finds the file held when it opens the tape does not wait at all: it records
into the spool, and its first fold that gets the file creates or upgrades the schema.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import re
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from tracetape.errors import TapeError
from tracetape.store import connection, segment_keys
from tracetape.store import spool as spool_mod
from tracetape.store.schema.tables import SCHEMA_VERSION, SEGMENT_SCHEMAS
from tracetape.store.schema.views import view_ddl

# One process may open a DuckDB file only with one configuration at a time; tracetape's
# own threads take turns here instead of failing on each other.
_process_lock = threading.RLock()
_FORK_WAIT = 10.0
_held_over_fork: list[bool] = []


def _before_fork() -> None:
    # A child must not inherit an open DuckDB database or a held lock: wait for the
    # fold or read in flight (they are short) before the process forks.
    _held_over_fork[:] = [_process_lock.acquire(timeout=_FORK_WAIT)]
    if _held_over_fork[0]:
        _readers.drop()


def _after_fork_in_parent() -> None:
    if _held_over_fork and _held_over_fork[0]:
        _process_lock.release()
    _held_over_fork.clear()


def _after_fork_in_child() -> None:
    global _process_lock, _readers
    _process_lock = threading.RLock()
    _held_over_fork.clear()
    # The parent's readers were closed before the fork (or, if it could not wait, are
    # left alone: closing a DuckDB database copied mid-query is not safe); the closer
    # thread did not survive the fork.
    _readers = _ReaderCache()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def create_or_upgrade(path: Path, timeout: float, *, defer_if_held: bool = False) -> bool:
    """Make ``path`` a tape of the current schema (creating folders and spool).

    With ``defer_if_held``, an existing tape that another process holds is left for the
    first fold to upgrade, instead of waiting: returns False then, True when done now.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    spool = spool_mod.spool_dir(path)
    spool_mod.ensure(spool)
    connection.check_magic(path)
    with _process_lock:
        _readers.drop(path)
        if defer_if_held and path.exists():
            con = connection.try_connect(path, read_only=False)
            if con is None:
                return False
        else:
            con = connection.connect_waiting(path, read_only=False, timeout=timeout)
        try:
            connection.prepare(con, spool.resolve())
        finally:
            con.close()
    return True


_current: dict[Path, tuple[int, int, int, int]] = {}
"""Tape file -> its identity when this process last knew its schema current."""


def schema_known_current(path: Path) -> bool:
    """Whether ``path`` is unchanged since this process last knew its schema current
    (so its version need not be read again)."""
    try:
        return _current.get(path.resolve()) == _identity(path)
    except TapeError:
        return False


def note_schema_current(path: Path) -> None:
    """Remember that ``path``, as it is now, has the current schema."""
    with contextlib.suppress(TapeError):
        _current[path.resolve()] = _identity(path)


READ_IDLE_SECONDS = 1.0
"""A cached read connection idle this long is closed, releasing the file to writers."""


def _identity(path: Path) -> tuple[int, int, int, int]:
    # A read-only DuckDB connection never changes its file and no DuckDB can write it
    # while we hold it, so any change here means it was replaced or overwritten.
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TapeError(f"no tape at {path}") from None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclasses.dataclass
class _Reader:
    con: duckdb.DuckDBPyConnection
    identity: tuple[int, int, int, int]
    last_used: float
    segments: dict[str, list[Path]] = dataclasses.field(default_factory=dict[str, list[Path]])
    """Spool folder -> its unfolded segments, as last listed."""
    statements: dict[tuple[tuple[str, ...], ...], dict[str, str]] = dataclasses.field(
        default_factory=dict[tuple[tuple[str, ...], ...], dict[str, str]]
    )
    """The files each view reads -> view name -> its statement (the text names them)."""
    bound: dict[str, str] = dataclasses.field(default_factory=dict[str, str])
    """View name -> the statement this connection last ran for it."""


class _ReaderCache:
    """Open read connections by resolved path; a daemon thread closes idle ones.

    Every method runs under `_process_lock`, which also serialises the queries.
    """

    def __init__(self) -> None:
        self.readers: dict[Path, _Reader] = {}
        self.wake = threading.Event()
        self.closer: threading.Thread | None = None

    def get(self, path: Path) -> _Reader | None:
        identity = _identity(path)  # raises for a deleted tape, cached or not
        key = path.resolve()
        reader = self.readers.get(key)
        if reader is not None and reader.identity != identity:
            self.drop(path)
            return None
        return reader

    def put(self, path: Path, con: duckdb.DuckDBPyConnection) -> _Reader:
        reader = _Reader(con, _identity(path), time.monotonic())
        self.readers[path.resolve()] = reader
        if self.closer is None:
            self.closer = threading.Thread(
                target=_close_idle, name="tracetape-read-cache", daemon=True
            )
            self.closer.start()
        self.wake.set()
        return reader

    def touch(self, path: Path) -> None:
        reader = self.readers.get(path.resolve())
        if reader is not None:
            reader.last_used = time.monotonic()

    def drop(self, path: Path | None = None) -> None:
        """Close the reader of ``path`` (every reader without one)."""
        keys = list(self.readers) if path is None else [path.resolve()]
        for key in keys:
            reader = self.readers.pop(key, None)
            if reader is not None:
                reader.con.close()

    def close_idle(self) -> float | None:
        """Close readers idle past the limit; seconds until the next may be, or None."""
        now = time.monotonic()
        for key, reader in list(self.readers.items()):
            if now - reader.last_used >= READ_IDLE_SECONDS:
                self.drop(key)
        if not self.readers:
            self.wake.clear()
            return None
        oldest = min(reader.last_used for reader in self.readers.values())
        return max(oldest + READ_IDLE_SECONDS - now, 0.01)


_readers = _ReaderCache()


def _close_readers_at_exit() -> None:
    # An open connection at interpreter exit makes DuckDB's bindings report leaks.
    if _process_lock.acquire(timeout=_FORK_WAIT):
        try:
            _readers.drop()
        finally:
            _process_lock.release()


atexit.register(_close_readers_at_exit)


def _close_idle() -> None:
    while True:
        _readers.wake.wait()
        with _process_lock:
            wait = _readers.close_idle()
        if wait is not None:
            time.sleep(wait)


@dataclasses.dataclass(frozen=True)
class Scope:
    """What one query reads: rows of these traces from ``spans`` and of these payloads
    from ``blobs`` (None: all). The query sees the spool segments holding any of them
    and none else, so it must read no other rows of those views (nor of the views over
    them, like ``traces``)."""

    traces: frozenset[str] | None = None
    blobs: frozenset[str] | None = None

    def segments(self, spool: Path, folder: str, found: list[Path]) -> list[Path]:
        """The segments of ``folder`` this scope reads, of those ``found`` there."""
        wanted = {"spans": self.traces, "blobs": self.blobs}.get(folder)
        return found if wanted is None else segment_keys.KEYS.holding(spool / folder, found, wanted)


class Query(Protocol):
    """SQL over a tape's public views, the result as Arrow (`TapeReader.arrow`); a
    ``scope`` promises the query reads only those traces' and payloads' rows."""

    def __call__(
        self, query: str, params: Sequence[Any], *, scope: Scope | None = None
    ) -> pa.Table: ...


@contextlib.contextmanager
def reading(
    path: Path, timeout: float, sql: str | None = None, scope: Scope | None = None
) -> Generator[duckdb.DuckDBPyConnection]:
    """A read-only connection with the public views bound to this tape's spool.

    The connection is cached: back-to-back reads pay the open (~40 ms) once. It is
    closed after `READ_IDLE_SECONDS` without a read, so another process's fold waits at
    most about that long, and at once when this process writes (`release_reader`).
    Given the ``sql`` that will run, only the views it names (and the views those name)
    are bound now; without it, every view. Given a ``scope``, the views leave out spool
    segments that hold none of its traces or payloads.
    """
    spool = spool_mod.spool_dir(path)
    # Cheap, and the views' file lists need each folder's schema file.
    spool_mod.ensure(spool)
    with _process_lock:
        reader = _readers.get(path)
        if reader is None:
            reader = _open_reader(path, timeout)
        try:
            _bind_views(reader, spool.resolve(), sql, scope)
            yield reader.con
        except BaseException:
            # A failed query may leave the connection in a state we cannot vouch for.
            _readers.drop(path)
            raise
        finally:
            _readers.touch(path)


def _open_reader(path: Path, timeout: float) -> _Reader:
    connection.check_magic(path)
    con = connection.connect_waiting(path, read_only=True, timeout=timeout)
    try:
        # Nobody writes the file while we hold it: unchanged since it was last seen
        # current (a fold of this process), its version need not be read (~6 ms).
        if not schema_known_current(path):
            version = connection.schema_version(con)
            connection.refuse_newer(version)
            if version is None or version < SCHEMA_VERSION:
                con.close()
                create_or_upgrade(path, timeout)
                con = connection.connect_waiting(path, read_only=True, timeout=timeout)
            note_schema_current(path)
    except BaseException:
        con.close()
        raise
    return _readers.put(path, con)


def _bind_views(
    reader: _Reader, spool: Path, sql: str | None = None, scope: Scope | None = None
) -> None:
    """Point the views at the spool segments present now, listed once for the query.

    With a glob, each mention of a view in one query lists the folder again, so a
    segment landing in between is counted by one mention and not the other. A list
    taken while we hold the file cannot go stale: segments are removed only by a fold,
    which needs the file.

    A view is made again only when its text changed (new segments of its folders, or
    another scope), and, given ``sql``, only when the query needs it: a fresh connection
    binding all eight views costs ~20 ms, the two a replay reads ~3 ms.
    """
    snapshot = {folder: spool_mod.segments(spool, folder) for folder in SEGMENT_SCHEMAS}
    if snapshot != reader.segments:
        reader.segments = snapshot
        reader.statements.clear()
    unfolded = {
        folder: scope.segments(spool, folder, found) if scope is not None else found
        for folder, found in snapshot.items()
    }
    # A folder with nothing unfolded (in scope) has its view read the table alone.
    listed = {
        folder: [str(spool_mod.schema_file(spool, folder)), *map(str, found)] if found else []
        for folder, found in unfolded.items()
    }
    key = tuple(tuple(files) for files in listed.values())
    statements = reader.statements.get(key)
    if statements is None:
        if len(reader.statements) >= _KEPT_STATEMENTS:
            reader.statements.clear()
        statements = _by_view(view_ddl(spool, temporary=True, segments=listed))
        reader.statements[key] = statements
    needed = set(statements) if sql is None else _named_views(sql, statements)
    # In the order view_ddl gives (a view after the views it reads).
    for name, statement in statements.items():
        if name in needed and reader.bound.get(name) != statement:
            reader.con.execute(statement)
            reader.bound[name] = statement


_KEPT_STATEMENTS = 4
"""View statement sets kept per reader for the current segments (unscoped, and scopes)."""


_VIEW_NAME = re.compile(r"\bVIEW\s+(\w+)\s+AS\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z_][a-z0-9_]*")


def _by_view(statements: list[str]) -> dict[str, str]:
    """``CREATE ... VIEW name AS ...`` statements by view name, in their order."""
    named: dict[str, str] = {}
    for statement in statements:
        match = _VIEW_NAME.search(statement)
        if match is None:  # pragma: no cover - view_ddl makes only views
            raise TapeError(f"not a view statement: {statement[:80]}")
        named[match.group(1).lower()] = statement
    return named


def _named_views(sql: str, statements: dict[str, str]) -> set[str]:
    """The views ``sql`` names as a word, with the views their own statements name.

    A word that only looks like a view name (a column, a string) binds one view more
    than needed, which costs time, never a result.
    """
    needed: set[str] = set()
    todo = [sql]
    while todo:
        for word in set(_WORD.findall(todo.pop().lower())):
            if word in statements and word not in needed:
                needed.add(word)
                todo.append(statements[word].split(" AS ", 1)[1])
    return needed


def release_reader(path: Path) -> None:
    """Close this process's cached read connection to ``path`` (before writing to it)."""
    with _process_lock:
        _readers.drop(path)


@contextlib.contextmanager
def writing(path: Path, timeout: float | None) -> Generator[duckdb.DuckDBPyConnection | None]:
    """A read-write connection, or None at once if ``timeout`` is None and it is held."""
    with _process_lock:
        _readers.drop(path)  # DuckDB refuses a writer beside our own cached reader
        if timeout is None:
            con = connection.try_connect(path, read_only=False)
        else:
            con = connection.connect_waiting(path, read_only=False, timeout=timeout)
        try:
            yield con
        finally:
            if con is not None:
                con.close()
