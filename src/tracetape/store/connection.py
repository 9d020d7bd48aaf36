"""Opening the tape's DuckDB file: lock and corruption errors, schema versions, views.

`tracetape.store.access` decides when this process holds the file; this module opens
it (waiting with backoff while another process holds it, then `TapeLockedError`), tells
a foreign or damaged file (`TapeCorruptError`) and a newer schema (`SchemaVersionError`)
from a lock, and creates or upgrades the schema in one transaction.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from tracetape.errors import SchemaVersionError, TapeCorruptError, TapeError, TapeLockedError
from tracetape.store.schema.tables import MIGRATIONS, SCHEMA_VERSION, base_ddl
from tracetape.store.schema.views import view_ddl

# DuckDB's first bytes: an 8-byte checksum, then this magic.
_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8


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
    # fetchall, never fetchone: DuckDB 2.0 keeps a half-fetched result open, and the
    # connection's next statement then fails (ResourceInUseException).
    has_meta = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_meta' AND NOT temporary"
    ).fetchall()
    if not has_meta or not has_meta[0][0]:
        return None
    rows = con.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else None


def refuse_newer(version: int | None) -> None:
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
    refuse_newer(version)
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
    refuse_newer(version)
    if version != SCHEMA_VERSION:
        prepare(con, spool.resolve())


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (used to tell stale temp files)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
