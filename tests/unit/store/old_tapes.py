"""What the migration tests share: a tape file and spool laid out as an older version did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tracetape.store.schema.tables import SPAN_SCHEMA

START = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
TRACE = "1" * 32
V3_SPAN_SCHEMA = SPAN_SCHEMA.remove(SPAN_SCHEMA.get_field_index("replay"))
"""Span segments as versions 1-3 wrote them (v4 added ``replay``)."""
SPOOLED_TRACE = "2" * 32


def create(path: Path, ddl: Sequence[str], version: int) -> duckdb.DuckDBPyConnection:
    """A DuckDB file with ``ddl`` run and ``version`` in ``_meta``; the caller adds rows."""
    con = duckdb.connect(str(path))
    for statement in ddl:
        con.execute(statement)
    con.execute(
        "INSERT INTO _meta VALUES ('schema_version', ?), ('spool', ?)", [str(version), str(path)]
    )
    return con


def spool_one_span(path: Path, name: str, folders: Sequence[str] = ("spans",)) -> None:
    """The tape's spool with ``folders`` and one span segment (trace `SPOOLED_TRACE`) not
    folded yet, with the span columns versions 1-3 wrote (no ``replay``)."""
    spool = path.with_name("tape.spool")
    for folder in folders:
        (spool / folder).mkdir(parents=True)
    row = {
        "trace_id": SPOOLED_TRACE,
        "span_id": "bbbbbbbbbbbbbbbb",
        "name": name,
        "kind": "chain",
        "start_time": START,
        "end_time": START,
        "status": "ok",
    }
    segment = pa.Table.from_pylist([row], schema=V3_SPAN_SCHEMA)
    pq.write_table(segment, spool / "spans" / "00000000000000000001-1-000001.parquet")
