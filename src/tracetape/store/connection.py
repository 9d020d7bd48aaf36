"""Opening the tape's DuckDB file: locks, corruption, schema versions and views.

A DuckDB file opened read-write by one process cannot be opened by any other, not even
read-only. So tracetape never keeps it open: writers (folding) open it for one short
transaction; readers open it read-only per query. Both wait, with backoff, up to a
timeout while another process holds it, then raise `TapeLockedError`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from tracetape.errors import SchemaVersionError, TapeCorruptError, TapeError, TapeLockedError
from tracetape.store import spool as spool_mod
from tracetape.store.schema.tables import MIGRATIONS, SCHEMA_VERSION, base_ddl
from tracetape.store.schema.views import view_ddl

# One process may open a DuckDB file only with one configuration at a time; tracetape's
# own threads take turns here instead of failing on each other.
_process_lock = threading.RLock()

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
    config = {"threads": "2"}
    return duckdb.connect(str(path), read_only=read_only, config=config)


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


def connect_waiting(
    path: Path, *, read_only: bool, timeout: float
) -> duckdb.DuckDBPyConnection:
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


def prepare(con: duckdb.DuckDBPyConnection, spool: Path) -> None:
    """Create or upgrade the schema (forward-only) and the persistent public views."""
    version = schema_version(con)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"this tape has schema version {version}; this tracetape reads up to "
            f"{SCHEMA_VERSION}. Upgrade tracetape to read it."
        )
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


def create_or_upgrade(path: Path, timeout: float) -> None:
    """Make ``path`` a tape of the current schema (creating folders and spool)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    spool = spool_mod.spool_dir(path)
    spool_mod.ensure(spool)
    with _process_lock:
        con = connect_waiting(path, read_only=False, timeout=timeout)
        try:
            prepare(con, spool.resolve())
        finally:
            con.close()


@contextlib.contextmanager
def reading(path: Path, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection with the public views bound to this tape's spool."""
    if not path.exists():
        raise TapeError(f"no tape at {path}")
    spool = spool_mod.spool_dir(path).resolve()
    spool_mod.ensure(spool)
    with _process_lock:
        con = connect_waiting(path, read_only=True, timeout=timeout)
        try:
            version = schema_version(con)
            if version is not None and version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"this tape has schema version {version}; this tracetape reads up to "
                    f"{SCHEMA_VERSION}. Upgrade tracetape to read it."
                )
            if version is None or version < SCHEMA_VERSION:
                con.close()
                create_or_upgrade(path, timeout)
                con = connect_waiting(path, read_only=True, timeout=timeout)
            for statement in view_ddl(spool, temporary=True):
                con.execute(statement)
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def writing(path: Path, timeout: float | None) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-write connection, or None at once if ``timeout`` is None and it is held."""
    with _process_lock:
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
