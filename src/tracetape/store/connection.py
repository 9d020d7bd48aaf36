"""Opening the tape's DuckDB file: locks, corruption, schema versions and views.

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
import threading
import time
from collections.abc import Generator
from pathlib import Path

import duckdb

from tracetape.errors import SchemaVersionError, TapeCorruptError, TapeError, TapeLockedError
from tracetape.store import spool as spool_mod
from tracetape.store.schema.tables import MIGRATIONS, SCHEMA_VERSION, SEGMENT_SCHEMAS, base_ddl
from tracetape.store.schema.views import view_ddl

# One process may open a DuckDB file only with one configuration at a time; tracetape's
# own threads take turns here instead of failing on each other.
_process_lock = threading.RLock()
_FORK_WAIT = 10.0
_held_over_fork: list[bool] = []

# DuckDB's first bytes: an 8-byte checksum, then this magic.
_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8


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

_LOCK_WORDS = ("lock", "different configuration", "conflicting lock", "resource temporarily")
_CORRUPT_WORDS = ("not a valid duckdb", "corrupt", "invalid magic", "checksum", "serialization")


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _LOCK_WORDS)


def _is_corrupt_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(word in text for word in _CORRUPT_WORDS)


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    # No TimeZone setting: it needs the icu extension, which may not be installable
    # offline; without it DuckDB keeps TIMESTAMPTZ in UTC, which is what we want.
    if read_only:
        # DuckDB's default configuration: a user's own read-only `duckdb.connect` of
        # the tape in this process then shares our cached reader's database instead of
        # failing on "a different configuration".
        return duckdb.connect(str(path), read_only=True)
    config: dict[str, str | bool | int | float | list[str]] = {"threads": 2}
    return duckdb.connect(str(path), read_only=read_only, config=config)


def check_magic(path: Path) -> None:
    """Raise `TapeCorruptError` if ``path`` exists, is not empty and is not a DuckDB file.

    Read straight from the file, so it works while another process holds the lock.
    """
    try:
        with path.open("rb") as f:
            head = f.read(_MAGIC_OFFSET + len(_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise TapeError(f"cannot read {path}: {exc}") from exc
    if head and head[_MAGIC_OFFSET:] != _MAGIC:
        raise TapeCorruptError(
            f"{path} is not a tracetape tape (not a DuckDB database file); "
            "move it away or open another path"
        )


def try_connect(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection | None:
    """Open now or return None if another process holds the file."""
    try:
        return _connect(path, read_only)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        if _is_lock_error(exc):
            return None
        if _is_corrupt_error(exc):
            raise TapeCorruptError(f"{path} is not a readable tracetape tape: {exc}") from exc
        raise TapeError(f"cannot open {path}: {exc}") from exc
    except duckdb.Error as exc:
        if _is_corrupt_error(exc):
            raise TapeCorruptError(f"{path} is not a readable tracetape tape: {exc}") from exc
        raise


def connect_waiting(path: Path, *, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open, waiting with backoff while another process holds the file."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        con = try_connect(path, read_only=read_only)
        if con is not None:
            return con
        if time.monotonic() >= deadline:
            raise TapeLockedError(
                f"{path} is held by another process (a recording agent folding spans or "
                f"a notebook with the file open) for more than {timeout:.0f}s; "
                "close it there, or raise TRACETAPE_LOCK_TIMEOUT"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The tape's schema version, or None for a fresh (empty) file."""
    has_meta = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_meta' AND NOT temporary"
    ).fetchone()
    if not has_meta or not has_meta[0]:
        return None
    row = con.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def _refuse_newer(version: int | None) -> None:
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"this tape has schema version {version}; this tracetape reads up to "
            f"{SCHEMA_VERSION}. Upgrade tracetape to read it."
        )


def prepare(con: duckdb.DuckDBPyConnection, spool: Path) -> None:
    """Create or upgrade the schema (forward-only) and the persistent public views.

    One transaction: a migration that fails leaves the tape as it was, at its old version.
    """
    version = schema_version(con)
    _refuse_newer(version)
    con.execute("BEGIN")
    try:
        if version is None:
            for statement in base_ddl():
                con.execute(statement)
            version = SCHEMA_VERSION
        while version < SCHEMA_VERSION:
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            version += 1
        con.execute(
            "INSERT OR REPLACE INTO _meta VALUES ('schema_version', ?), ('spool', ?)",
            [str(SCHEMA_VERSION), str(spool)],
        )
        for statement in view_ddl(spool, temporary=False):
            con.execute(statement)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def ensure_current(con: duckdb.DuckDBPyConnection, spool: Path) -> None:
    """Before writing: create or upgrade the schema unless it is current already."""
    version = schema_version(con)
    _refuse_newer(version)
    if version != SCHEMA_VERSION:
        prepare(con, spool.resolve())


def create_or_upgrade(path: Path, timeout: float, *, defer_if_held: bool = False) -> bool:
    """Make ``path`` a tape of the current schema (creating folders and spool).

    With ``defer_if_held``, an existing tape that another process holds is left for the
    first fold to upgrade, instead of waiting: returns False then, True when done now.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    spool = spool_mod.spool_dir(path)
    spool_mod.ensure(spool)
    check_magic(path)
    with _process_lock:
        _readers.drop(path)
        if defer_if_held and path.exists():
            con = try_connect(path, read_only=False)
            if con is None:
                return False
        else:
            con = connect_waiting(path, read_only=False, timeout=timeout)
        try:
            prepare(con, spool.resolve())
        finally:
            con.close()
    return True


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
    segments: dict[str, list[str]] = dataclasses.field(default_factory=dict[str, list[str]])


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


@contextlib.contextmanager
def reading(path: Path, timeout: float) -> Generator[duckdb.DuckDBPyConnection]:
    """A read-only connection with the public views bound to this tape's spool.

    The connection is cached: back-to-back reads pay the open (~40 ms) once. It is
    closed after `READ_IDLE_SECONDS` without a read, so another process's fold waits at
    most about that long, and at once when this process writes (`release_reader`).
    """
    spool = spool_mod.spool_dir(path)
    # Cheap, and the views' file lists need each folder's schema file.
    spool_mod.ensure(spool)
    with _process_lock:
        reader = _readers.get(path)
        if reader is None:
            reader = _open_reader(path, timeout)
        try:
            _bind_views(reader, spool.resolve())
            yield reader.con
        except BaseException:
            # A failed query may leave the connection in a state we cannot vouch for.
            _readers.drop(path)
            raise
        finally:
            _readers.touch(path)


def _open_reader(path: Path, timeout: float) -> _Reader:
    check_magic(path)
    con = connect_waiting(path, read_only=True, timeout=timeout)
    try:
        version = schema_version(con)
        _refuse_newer(version)
        if version is None or version < SCHEMA_VERSION:
            con.close()
            create_or_upgrade(path, timeout)
            con = connect_waiting(path, read_only=True, timeout=timeout)
    except BaseException:
        con.close()
        raise
    return _readers.put(path, con)


def _bind_views(reader: _Reader, spool: Path) -> None:
    """Point the views at the spool segments present now, listed once for the query.

    With a glob, each mention of a view in one query lists the folder again, so a
    segment landing in between is counted by one mention and not the other. A list
    taken while we hold the file cannot go stale: segments are removed only by a fold,
    which needs the file.
    """
    snapshot = {
        folder: [str(spool / folder / spool_mod.SCHEMA_FILE)]
        + [str(f) for f in spool_mod.segments(spool, folder)]
        for folder in SEGMENT_SCHEMAS
    }
    if snapshot == reader.segments:
        return
    for statement in view_ddl(spool, temporary=True, segments=snapshot):
        reader.con.execute(statement)
    reader.segments = snapshot


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
            con = try_connect(path, read_only=False)
        else:
            con = connect_waiting(path, read_only=False, timeout=timeout)
        try:
            yield con
        finally:
            if con is not None:
                con.close()


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (used to tell stale temp files)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
