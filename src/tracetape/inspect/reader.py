"""`TapeReader`: read a tape by path without recording into it (what the CLI uses).

Unlike `tracetape.open()` it never creates a file, starts no background thread and
takes no environment snapshot; each call opens the DuckDB file read-only for one query
(waiting up to ``lock_timeout`` while another process holds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tracetape.errors import NotFoundError, TapeError
from tracetape.inspect.trace import Trace
from tracetape.store import connection


def query_frame(
    path: Path, lock_timeout: float, query: str, params: Sequence[Any] | dict[str, Any] | None
) -> pd.DataFrame:
    """One read-only query over the public views of the tape at ``path`` as a DataFrame."""
    with connection.reading(path, lock_timeout) as con:
        # Through Arrow: DuckDB's own pandas path warns under pandas 3.
        relation = con.sql(query, params=params or None)
        if relation is None:  # pyright: ignore[reportUnnecessaryComparison] - DDL returns None
            return pd.DataFrame()
        return relation.to_arrow_table().to_pandas()


class TapeReader:
    """Read-only access to the tape at ``path``.

    Example:
        >>> reader = TapeReader(Path(".tracetape/tape.duckdb"))
        >>> reader.traces(limit=5)
    """

    def __init__(self, path: Path, lock_timeout: float = 30.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"TapeReader({str(self.path)!r})"

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL over the public views; raises `TapeError` when there is no tape."""
        if not self.path.is_file():
            raise TapeError(f"no tape at {self.path} (record one first, e.g. `tracetape demo`)")
        return query_frame(self.path, self.lock_timeout, query, params)

    def traces(self, limit: int = 50, *, errors_only: bool = False) -> pd.DataFrame:
        """One row per trace, newest first (only failed ones with ``errors_only``)."""
        where = "WHERE status = 'error' " if errors_only else ""
        return self.sql(f"SELECT * FROM traces {where}ORDER BY start_time DESC LIMIT ?", [limit])

    def resolve(self, prefix: str) -> str:
        """The one trace id starting with ``prefix`` (a full id is its own prefix)."""
        rows = self.sql(
            "SELECT DISTINCT trace_id FROM spans WHERE starts_with(trace_id, ?) LIMIT 2",
            [prefix.lower()],
        )
        ids = [str(x) for x in rows["trace_id"]]
        if not ids:
            raise NotFoundError(f"no trace {prefix!r} on {self.path}")
        if len(ids) > 1:
            raise NotFoundError(
                f"{prefix!r} matches several traces on {self.path}; give more of the id"
            )
        return ids[0]

    def trace(self, trace_id: str) -> Trace:
        """One recorded trace by its id (or a unique prefix of it)."""
        full_id = self.resolve(trace_id) if trace_id else trace_id
        spans = self.sql(
            "SELECT * FROM spans WHERE trace_id = ? ORDER BY start_time, span_id", [full_id]
        )
        if spans.empty:
            raise NotFoundError(f"no trace {trace_id!r} on {self.path}")
        return Trace(full_id, spans)
