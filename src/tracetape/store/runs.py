"""Pipeline run records, written to the spool (``tape.spool/runs/``) like spans are.

A run writes one row when it starts (status ``running``) and one when it ends
(``finished`` or ``failed``, with the error); the ``runs`` view shows the latest. Neither
write waits on the DuckDB file. A process killed inside a run leaves it ``running``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from tracetape.spans.encode import to_jsonable
from tracetape.store import spool
from tracetape.store.arrow import environment_table
from tracetape.store.schema.tables import RUN_SCHEMA

RunStatus = Literal["running", "finished", "failed"]
_MAX_ERROR = 2000


class RunRecord(BaseModel):
    """One pipeline run as it is recorded.

    Example:
        >>> RunRecord(run_id="run-1f...", name="nightly-eval", params={"k": 4})
    """

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    parent_run_id: str | None = None
    status: RunStatus = "running"
    error_type: str | None = None
    error_message: str | None = None
    params: dict[str, Any] = {}
    tags: tuple[str, ...] = ()
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    environment_id: str | None = None
    trace_id: str | None = None
    parent_span_id: str | None = None


def params_json(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` as JSON-safe data (secrets redacted, like span attributes)."""
    safe = to_jsonable(dict(params or {}))
    return safe if isinstance(safe, dict) else {}


def check_tags(tags: Sequence[str] | None) -> tuple[str, ...]:
    """Tags as a tuple of strings; `TypeError` for anything else."""
    if tags is None:
        return ()
    # Checked at run time: a user's tags=["a", 1] must fail here, not in Arrow later.
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError("a run's tags are a list of strings, e.g. tags=['nightly']")
    return tuple(tags)


def write(tape_path: Path, record: RunRecord) -> None:
    """Spool ``record`` (its start or its end, by status). Never opens the DuckDB file."""
    phase = "start" if record.status == "running" else "end"
    row = record.model_dump()
    row["record_id"] = f"{record.run_id}:{phase}"
    row["params"] = json.dumps(record.params, sort_keys=True)
    row["tags"] = list(record.tags)
    row["pid"] = os.getpid()
    row["recorded_at"] = dt.datetime.now(dt.UTC)
    table = pa.Table.from_pylist([row], schema=RUN_SCHEMA)
    spool.write_segment(spool.spool_dir(tape_path), "runs", table)


def write_environment(tape_path: Path, environment: dict[str, Any]) -> None:
    """Spool the environment snapshot a run refers to (folding keeps one copy per id)."""
    spool.write_segment(spool.spool_dir(tape_path), "environments", environment_table(environment))


def error_fields(exc: BaseException) -> tuple[str, str]:
    """(qualified type name, message cut to 2,000 characters) of a run's error."""
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    return name, str(exc)[:_MAX_ERROR]
