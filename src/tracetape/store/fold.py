"""Folding spool segments into the DuckDB tables, in one short write transaction.

Whoever can take the file lock folds every finished segment (its own and other
processes'). A segment's name goes into ``_folded`` in the same transaction as its rows,
so the views never count a row twice, and a crash between commit and file removal only
leaves a file the next fold deletes. Files are removed while the write lock is still
held, so no reader ever sees a segment vanish under its query.

A segment that cannot be read (a disk that lost the end of a file) would stop every
fold and every read, so it is moved to ``quarantine/`` beside the spool folders, with a
warning, and the next fold carries on with the rest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tracetape.store import segment_keys
from tracetape.store import spool as spool_mod
from tracetape.store.schema.tables import SEGMENT_SCHEMAS, TABLES

logger = logging.getLogger("tracetape")

QUARANTINE = "quarantine"
_STALE_TMP_SECONDS = 3600.0


def fold_into(con: duckdb.DuckDBPyConnection, spool: Path) -> int:
    """Fold every finished segment of ``spool`` into ``con``'s tables. Returns span rows."""
    pending = {folder: spool_mod.segments(spool, folder) for folder in SEGMENT_SCHEMAS}
    if not any(pending.values()):
        return 0
    all_names = [f.name for files in pending.values() for f in files]
    already = {
        row[0]
        for row in con.execute(
            "SELECT segment FROM _folded WHERE segment IN (SELECT unnest(?))", [all_names]
        ).fetchall()
    }
    spool_mod.ensure(spool)  # each folder's schema file, current: see `_insert`
    try:
        folded_spans = _insert(con, spool, pending, already)
    except duckdb.Error:
        if _quarantine_unreadable(spool, pending):
            return 0
        raise
    for files in pending.values():
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        segment_keys.KEYS.forget(files)
    remove_stale_temporaries(spool)
    return folded_spans


# Rows a deletion removed must not come back from a segment folded after it (one another
# process renamed into place late): spans and scores of a deleted trace never fold, nor a
# deleted blob from a segment named (by its write time) before the deletion.
_NOT_DELETED = "trace_id NOT IN (SELECT trace_id FROM _deleted)"
_KEYS = {
    "blobs": "hash",
    "environments": "environment_id",
    "scores": "score_id",
    "runs": "record_id",
    "artifacts": "artifact_id",
    "artifact_links": "link_id",
}


def _segment_ns(filename_sql: str) -> str:
    """SQL: the write time (ns) a segment's name starts with."""
    return f"TRY_CAST(split_part(parse_filename({filename_sql}), '-', 1) AS BIGINT)"


BLOB_NOT_DELETED = (
    "NOT EXISTS (SELECT 1 FROM _deleted_blobs d WHERE d.hash = s.hash "
    f"AND {_segment_ns('s.filename')} < d.deleted_ns)"
)
"""SQL over a segment scan ``s`` with ``filename``: the blob was not deleted since."""


def _insert(
    con: duckdb.DuckDBPyConnection,
    spool: Path,
    pending: dict[str, list[Path]],
    already: set[str],
) -> int:
    folded_spans = 0
    folded: list[str] = []
    con.execute("BEGIN")
    try:
        for folder, files in pending.items():
            fresh = [str(f) for f in files if f.name not in already]
            if not fresh:
                continue
            folded.extend(Path(f).name for f in fresh)
            # Read by column name with the folder's (empty) schema file: a segment an
            # older version wrote reads the columns added since as NULL.
            fresh.insert(0, str(spool_mod.schema_file(spool, folder)))
            table = TABLES[folder]
            names = ", ".join(field.name for field in SEGMENT_SCHEMAS[folder])
            source = "read_parquet(?, union_by_name = true, filename = true)"
            if folder == "spans":
                inserted = con.execute(
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} "
                    f"WHERE {_NOT_DELETED}",
                    [fresh],
                ).fetchall()
                folded_spans += int(inserted[0][0]) if inserted else 0
            else:
                key = _KEYS[folder]
                where = {
                    "blobs": BLOB_NOT_DELETED,
                    "scores": f"(s.trace_id IS NULL OR s.{_NOT_DELETED})",
                }.get(folder, "true")
                # An artifact logged twice keeps its first logging's kind, name and URI.
                first = " ORDER BY artifact_id, created_at" if folder == "artifacts" else ""
                con.execute(
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM "
                    f"(SELECT DISTINCT ON ({key}) {names}, filename FROM {source} s "
                    f"WHERE {where}{first}) s "
                    f"WHERE s.{key} NOT IN (SELECT {key} FROM {table})",
                    [fresh],
                )
        if folded:  # one statement for every folder's segments, in the same transaction
            con.execute("INSERT INTO _folded SELECT unnest(?), now()", [folded])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return folded_spans


def _readable(path: Path) -> bool:
    try:
        pq.ParquetFile(path).close()
    except FileNotFoundError:
        return True  # folded and removed meanwhile: nothing to quarantine
    except (OSError, ValueError):
        return False
    return True


def _quarantine_unreadable(spool: Path, pending: dict[str, list[Path]]) -> bool:
    """Move segments Parquet cannot read out of the spool. True if any was moved."""
    moved = False
    for folder, files in pending.items():
        for f in files:
            if _readable(f):
                continue
            target = spool / QUARANTINE / folder
            target.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.replace(f, target / f.name)
                moved = True
                logger.warning(
                    "tracetape: spool segment %s is unreadable; moved to %s. "
                    "The other segments are folded as usual.",
                    f,
                    target,
                )
    return moved


def remove_stale_temporaries(spool: Path) -> None:
    """Delete half-written segment files left by processes that died while writing."""
    cutoff = time.time() - _STALE_TMP_SECONDS
    for folder in SEGMENT_SCHEMAS:
        try:
            entries = list(os.scandir(spool / folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
                continue
            # A live writer may be on another host or in another pid namespace (a shared
            # volume), so age decides, not the pid in the name.
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
