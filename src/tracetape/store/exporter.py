"""The tape as an OpenTelemetry span exporter: spans -> spool segments -> DuckDB.

`TapeSpanExporter.export` never touches the DuckDB file: it writes one Parquet segment
(plus one of the payload blobs the spans carried) and returns. `tick`, called by the
background writer thread, folds the spool into DuckDB when the file lock is free.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracetape.errors import TapeError
from tracetape.store import access, connection, fold, spool
from tracetape.store.arrow import environment_table, spans_table

logger = logging.getLogger("tracetape")


class TapeSpanExporter(SpanExporter):
    """Writes spans into a tape's spool and folds the spool into its DuckDB file.

    Args:
        path: the tape's DuckDB file.
        environment: this process's environment snapshot, written once.
        fold_interval: seconds between attempts to fold the spool into DuckDB.
    """

    def __init__(
        self, path: Path, environment: dict[str, Any], *, fold_interval: float = 2.0
    ) -> None:
        self.path = path
        self.spool = spool.spool_dir(path)
        self.environment = environment
        self.fold_interval = fold_interval
        self.segments_written = 0
        self._environment_written = False
        self._last_fold = time.monotonic()
        self._fold_lock = threading.Lock()
        self._fold_warned = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        try:
            span_table, blob_table = spans_table(spans, self.environment.get("environment_id"))
            if not self._environment_written:
                spool.write_segment(self.spool, "environments", environment_table(self.environment))
                self._environment_written = True
            if blob_table.num_rows:
                # Blobs first: a reader that sees a span can always find its payloads.
                spool.write_segment(self.spool, "blobs", blob_table)
            spool.write_segment(self.spool, "spans", span_table)
            self.segments_written += 1
        except OSError as exc:
            logger.debug("tracetape: spool write failed: %s", exc)
            raise
        return SpanExportResult.SUCCESS

    def tick(self) -> None:
        """Fold the spool into DuckDB if it is time and nobody else holds the file."""
        if time.monotonic() - self._last_fold < self.fold_interval:
            return
        if not spool.segments(self.spool, "spans"):
            self._last_fold = time.monotonic()
            return
        try:
            self.fold(timeout=None)
        except TapeError as exc:
            # The segments stay in the spool and the views keep showing them.
            if not self._fold_warned:
                self._fold_warned = True
                logger.warning(
                    "tracetape: cannot fold the spool into %s (%s); spans stay in %s, none is lost",
                    self.path,
                    exc,
                    self.spool,
                )

    def fold(self, timeout: float | None) -> int:
        """Fold every finished segment now. Returns span rows folded (0 if the file was held).

        Creates or upgrades the schema first if this process opened the tape while
        another held it. Raises `TapeError` subclasses (corrupt, newer schema, locked
        past ``timeout``); the spool keeps everything either way.
        """
        with self._fold_lock:
            self._last_fold = time.monotonic()
            with access.writing(self.path, timeout) as con:
                if con is None:
                    return 0
                # The schema is checked again only when the file changed since this
                # process last saw it current (another process may have replaced or
                # upgraded it): two catalog queries less on every fold.
                if not access.schema_known_current(self.path):
                    connection.ensure_current(con, self.spool)
                folded = fold.fold_into(con, self.spool)
                self._check_environment(con)
            access.note_schema_current(self.path)
            return folded

    def _check_environment(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write the environment again if a delete elsewhere removed it while we record."""
        if not self._environment_written:
            return
        rows = con.execute(
            "SELECT count(*) FROM _environments WHERE environment_id = ?",
            [self.environment.get("environment_id")],
        ).fetchall()
        if rows and rows[0][0] == 0:
            self._environment_written = False

    def after_fork(self) -> None:
        """A forked child writes its own segments; its environment is its parent's."""
        self._fold_lock = threading.Lock()

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
