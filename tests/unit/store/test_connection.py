"""Opening tapes: corrupt files, newer and older schemas, forward-only migrations."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

import tracetape
from tracetape.store import access, connection, spool
from tracetape.store.schema.tables import SCHEMA_VERSION


def _set_version(path: Path, version: int) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE _meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    finally:
        con.close()


def _version(path: Path) -> int | None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return connection.schema_version(con)
    finally:
        con.close()


def test_random_bytes_are_refused_as_corrupt_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    garbage = os.urandom(16_384)
    path.write_bytes(garbage)

    with pytest.raises(tracetape.TapeCorruptError, match="not a tracetape tape"):
        tracetape.open(path)

    assert path.read_bytes() == garbage


def test_a_short_text_file_is_refused_as_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("my notes\n")

    with pytest.raises(tracetape.TapeCorruptError):
        tracetape.open(path)


def test_a_newer_schema_is_refused_on_open_and_on_read(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    with tracetape.span("kept"):
        pass
    tape.close()
    _set_version(path, SCHEMA_VERSION + 1)

    with pytest.raises(tracetape.SchemaVersionError, match="Upgrade tracetape"):
        tracetape.open(path)
    with pytest.raises(tracetape.SchemaVersionError), access.reading(path, timeout=1.0):
        pass
    assert _version(path) == SCHEMA_VERSION + 1


def test_a_fresh_file_gets_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "new" / "tape.duckdb"
    tracetape.open(path).close()

    assert _version(path) == SCHEMA_VERSION
    assert spool.spool_dir(path).is_dir()


def test_an_older_tape_runs_each_migration_once_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    with tracetape.span("before-upgrade"):
        pass
    tape.close()
    # Pretend this tracetape is one schema version ahead, with one migration to get there.
    monkeypatch.setattr(connection, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(
        connection,
        "MIGRATIONS",
        {SCHEMA_VERSION: ["ALTER TABLE _spans ADD COLUMN upgraded BOOLEAN DEFAULT true"]},
    )

    tape = tracetape.open(path)
    tape.close()
    tracetape.open(path).close()  # a second open must not run the migration again

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT name, upgraded FROM _spans").fetchall()
        version = connection.schema_version(con)
    finally:
        con.close()
    assert rows == [("before-upgrade", True)]
    assert version == SCHEMA_VERSION + 1


def test_a_failing_migration_leaves_the_tape_at_its_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    with tracetape.span("survives"):
        pass
    tape.close()
    monkeypatch.setattr(connection, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(
        connection,
        "MIGRATIONS",
        {
            SCHEMA_VERSION: [
                "ALTER TABLE _spans ADD COLUMN half_done VARCHAR",
                "ALTER TABLE no_such_table ADD COLUMN x VARCHAR",
            ]
        },
    )

    with pytest.raises(duckdb.CatalogException):
        tracetape.open(path)

    monkeypatch.undo()
    assert _version(path) == SCHEMA_VERSION
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = {row[0] for row in con.execute("DESCRIBE _spans").fetchall()}
    finally:
        con.close()
    assert "half_done" not in columns
    tape = tracetape.open(path)
    assert tape.sql("SELECT name FROM spans").name.tolist() == ["survives"]
    tape.close()


def test_a_tape_without_meta_is_given_the_current_schema(tmp_path: Path) -> None:
    # Version 0: a DuckDB file that has never been a tape (or lost its _meta table).
    path = tmp_path / "tape.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE user_notes (x INTEGER)")
    con.execute("INSERT INTO user_notes VALUES (1)")
    con.close()

    tape = tracetape.open(path)
    with tracetape.span("first"):
        pass
    tape.flush()

    assert tape.sql("SELECT count(*) AS n FROM spans").n.tolist() == [1]
    assert _version(path) == SCHEMA_VERSION
    tape.close()
