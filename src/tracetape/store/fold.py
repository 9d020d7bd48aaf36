"""Folding spool segments into the DuckDB tables, in one short write transaction.

Whoever can take the file lock folds every finished segment (its own and other
processes'). A segment's name goes into ``_folded`` in the same transaction as its rows,
so the views never count a row twice, and a crash between commit and file removal only
leaves a file the next fold deletes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

from tracetape.store import spool as spool_mod
from tracetape.store.schema.tables import SEGMENT_SCHEMAS, TABLES


def _names(files: list[Path]) -> list[str]:
    return [f.name for f in files]


def fold_into(con: duckdb.DuckDBPyConnection, spool: Path) -> int:
    """Fold every finished segment of ``spool`` into ``con``'s tables. Returns span rows."""
    pending = {folder: spool_mod.segments(spool, folder) for folder in SEGMENT_SCHEMAS}
    if not any(pending.values()):
        return 0
    all_names = [name for files in pending.values() for name in _names(files)]
    already = {
        row[0]
        for row in con.execute(
            "SELECT segment FROM _folded WHERE segment IN (SELECT unnest(?))", [all_names]
        ).fetchall()
    }
    folded_spans = 0
    con.execute("BEGIN")
    try:
        for folder, files in pending.items():
            fresh = [str(f) for f in files if f.name not in already]
            if not fresh:
                continue
            table = TABLES[folder]
            names = ", ".join(field.name for field in SEGMENT_SCHEMAS[folder])
            source = "read_parquet(?, union_by_name = true)"
            if folder == "spans":
                con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {source}", [fresh])
                counted = con.execute("SELECT count(*) FROM read_parquet(?)", [fresh]).fetchone()
                folded_spans += int(counted[0]) if counted else 0
            else:
                key = "hash" if folder == "blobs" else "environment_id"
                con.execute(
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM "
                    f"(SELECT DISTINCT ON ({key}) {names} FROM {source}) s "
                    f"WHERE s.{key} NOT IN (SELECT {key} FROM {table})",
                    [fresh],
                )
            con.execute(
                "INSERT INTO _folded SELECT unnest(?), now()", [[Path(f).name for f in fresh]]
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for files in pending.values():
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
    return folded_spans
