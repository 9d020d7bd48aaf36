"""Feedback scores: a human's or an evaluator's judgement attached to a trace or a span.

A score is written as a spool segment (``tape.spool/scores/``) like spans are, so scoring
never waits on the DuckDB file: it works while another process records into the tape
or folds it. The next fold moves it into ``_scores``; the ``scores`` view shows it at
once. The id is checked first: in the spool (no lock needed), then through the public
views (read-only, waiting up to the lock timeout while another process folds).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from opentelemetry import trace as otel_trace

from tracetape.errors import NotFoundError, TapeError
from tracetape.store import access, spool
from tracetape.store.schema.tables import SCORE_SCHEMA

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_MAX_TEXT = 10_000


@dataclass(frozen=True)
class Target:
    """What a score is attached to: a whole trace (``span_id`` None) or one span."""

    trace_id: str | None
    span_id: str | None


def parse_value(value: object) -> tuple[float | None, str | None]:
    """A score's value -> (numeric value, label).

    ``True``/``False`` (thumbs up/down) are 1.0/0.0; numbers are kept as floats (a 0-1
    grade, 1-5 stars: no range is imposed); a string is a label with no numeric value.

    Example:
        >>> parse_value(True), parse_value(0.5), parse_value("billing")
        ((1.0, None), (0.5, None), (None, 'billing'))
    """
    if isinstance(value, bool):
        return (1.0 if value else 0.0), None
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"a score's value must be a finite number, not {value!r}")
        return number, None
    if isinstance(value, str):
        label = value.strip()
        if not label or len(label) > _MAX_TEXT:
            raise ValueError("a score label must be a non-empty string (at most 10,000 chars)")
        return None, label
    raise TypeError(
        "a score's value is a bool (thumbs up/down), a number (a grade) or a str (a label), "
        f"not {type(value).__name__}"
    )


def _check_text(what: str, text: object, *, optional: bool) -> str | None:
    if text is None and optional:
        return None
    if not isinstance(text, str):
        raise TypeError(f"a score's {what} must be a str, not {type(text).__name__}")
    if (not optional and not text.strip()) or len(text) > _MAX_TEXT:
        raise ValueError(f"a score's {what} must be a non-empty string of at most 10,000 chars")
    return text


def _id_kind(target_id: object) -> tuple[str, str]:
    if not isinstance(target_id, str):
        raise TypeError(f"score a trace or span id (str), not {type(target_id).__name__}")
    ident = target_id.strip().lower()
    if _TRACE_ID.fullmatch(ident):
        return "trace_id", ident
    if _SPAN_ID.fullmatch(ident):
        return "span_id", ident
    raise ValueError(f"{target_id!r} is neither a trace id (32 hex characters) nor a span id (16)")


def _in_spool(tape_path: Path, column: str, ident: str) -> Target | None:
    glob = str(spool.spool_dir(tape_path) / "spans" / "*.parquet")
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT trace_id FROM read_parquet(?) WHERE {column} = ? LIMIT 1", [glob, ident]
        ).fetchall()
    except duckdb.Error:
        return None  # a segment being quarantined: the views below decide
    finally:
        con.close()
    if not rows:
        return None
    return Target(str(rows[0][0]), ident if column == "span_id" else None)


def _live(column: str, ident: str) -> Target | None:
    """The span running here (or its trace), which no segment holds until it ends."""
    context = otel_trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"
    if column == "trace_id" and ident == trace_id:
        return Target(trace_id, None)
    if column == "span_id" and ident == span_id:
        return Target(trace_id, span_id)
    return None


def resolve(tape_path: Path, timeout: float, target_id: object) -> Target:
    """The trace or span ``target_id`` names; `NotFoundError` if the tape has none.

    The span running in this thread and its trace count as found before they end.
    """
    column, ident = _id_kind(target_id)
    found = _live(column, ident) or _in_spool(tape_path, column, ident)
    if found is not None:
        return found
    if not tape_path.is_file():
        raise TapeError(f"no tape at {tape_path}")
    with access.reading(tape_path, timeout) as con:
        # fetchall: a cached read connection must not keep an unfinished result.
        rows = con.execute(
            f"SELECT trace_id FROM spans WHERE {column} = ? LIMIT 1", [ident]
        ).fetchall()
    row = rows[0] if rows else None
    if row is None:
        what = "trace" if column == "trace_id" else "span"
        raise NotFoundError(f"no {what} {ident!r} on {tape_path}")
    return Target(str(row[0]), ident if column == "span_id" else None)


def write(
    tape_path: Path,
    target: Target,
    name: str,
    value: object,
    *,
    comment: str | None = None,
    source: str = "human",
) -> str:
    """Spool one score for ``target``; returns its ``score_id``. Never opens the DuckDB file.

    Example:
        >>> write(path, Target(trace_id, None), "helpful", True, comment="spot on")
        '5f0c...'
    """
    number, label = parse_value(value)
    checked_name = _check_text("name", name, optional=False)
    checked_comment = _check_text("comment", comment, optional=True)
    checked_source = _check_text("source", source, optional=False)
    score_id = uuid.uuid4().hex
    row: dict[str, object] = {
        "score_id": score_id,
        "trace_id": target.trace_id,
        "span_id": target.span_id,
        "name": checked_name,
        "value": number,
        "label": label,
        "comment": checked_comment,
        "source": checked_source,
        "created_at": dt.datetime.now(dt.UTC),
    }
    table = pa.Table.from_pylist([row], schema=SCORE_SCHEMA)
    spool.write_segment(spool.spool_dir(tape_path), "scores", table)
    return score_id
