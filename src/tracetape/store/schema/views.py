"""The stable public views: ``spans``, ``traces``, ``scores``, ``environments``, ``blobs``,
``runs``, ``artifacts`` and ``artifact_links``.

Each view reads the folded DuckDB table together with the spool's Parquet segments that
are not folded yet, so a reader sees spans the moment a recording process spooled them.
Rows a deletion removed (tombstones in ``_deleted`` and ``_deleted_blobs``) stay hidden
even while a segment written before the deletion still waits in the spool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tracetape.spans import semconv
from tracetape.store.schema.derived_artifacts import with_derived_artifacts, with_derived_links
from tracetape.store.schema.tables import SEGMENT_SCHEMAS, TABLES

SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, operation, start_time, end_time, "
    "duration_ms, status, status_message, error_type, model, provider, tool_name, "
    "input, output, attributes, input_tokens, output_tokens, run_id, environment_id, "
    "replay_of, tags, replayable"
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_SPOOL_FILTERS = {
    "spans": "AND trace_id NOT IN (SELECT trace_id FROM _deleted)",
    "scores": "AND (trace_id IS NULL OR trace_id NOT IN (SELECT trace_id FROM _deleted))",
    "blobs": (
        "AND NOT EXISTS (SELECT 1 FROM _deleted_blobs d WHERE d.hash = s.hash AND "
        "TRY_CAST(split_part(parse_filename(s.filename), '-', 1) AS BIGINT) < d.deleted_ns)"
    ),
}


def _combined(folder: str, spool: Path, files: Sequence[str] | None = None) -> str:
    """SQL selecting the raw table plus unfolded segments of one spool folder.

    ``files`` lists the segments to read (a snapshot taken by a reader); without it the
    view globs the folder, which persistent views for outside SQL users need. An empty
    list (nothing unfolded) selects the table alone: reading even an empty spool costs a
    query ~2 ms. Segments are matched by column name: one an older version wrote reads
    a column added since as NULL.
    """
    table = TABLES[folder]
    names = ", ".join(field.name for field in SEGMENT_SCHEMAS[folder])
    if files is not None and not files:
        return f"SELECT {names} FROM {table}"
    if files is None:
        glob = _quote(str(spool / folder / "*.parquet"))
    else:
        glob = "[" + ", ".join(_quote(f) for f in files) + "]"
    return (
        f"SELECT {names} FROM {table} UNION ALL BY NAME "
        f"SELECT {names} FROM read_parquet({glob}, union_by_name = true, filename = true) s "
        "WHERE parse_filename(filename) NOT IN (SELECT segment FROM _folded) "
        + _SPOOL_FILTERS.get(folder, "")
    )


# The span attributes that name payload blobs by content hash (lists or one hash).
_BLOB_REF_KEYS = (semconv.REPLAY_INPUT, semconv.REPLAY_OUTPUT, semconv.REPLAY_REQUEST)


def blob_refs(attributes: str) -> str:
    """SQL: the list of blob hashes a span's ``attributes`` JSON refers to."""
    parts = ", ".join(f"{attributes}->>'{key}'" for key in _BLOB_REF_KEYS)
    return f"regexp_extract_all(concat_ws(' ', {parts}), '[0-9a-f]{{64}}')"


SCORE_COLUMNS = "score_id, trace_id, span_id, name, value, label, comment, source, created_at"

# A span score recorded before its span was visible may lack its trace id: the span
# table resolves it (only for those rows, so the join stays small).
_SCORES_VIEW = (
    "SELECT r.score_id, coalesce(r.trace_id, sp.trace_id) AS trace_id, r.span_id, r.name, "
    "r.value, r.label, r.comment, r.source, r.created_at FROM ({scores_all}) r "
    "LEFT JOIN (SELECT span_id, any_value(trace_id) AS trace_id FROM spans "
    "WHERE span_id IN (SELECT span_id FROM ({scores_all}) WHERE trace_id IS NULL) "
    "GROUP BY span_id) sp ON r.trace_id IS NULL AND sp.span_id = r.span_id"
)

# The latest trace-level score of each name, as a list of structs sorted by name. Read
# from the raw rows, not the scores view: trace-level scores always carry their trace
# id, and the view's span join would scan every span again (~15 ms on 1M spans).
_TRACE_SCORES = (
    "SELECT trace_id, list_sort(list({{'name': name, 'value': s.latest.value, "
    "'label': s.latest.label, 'source': s.latest.source}})) AS scores "
    "FROM (SELECT trace_id, name, max_by({{'value': value, 'label': label, "
    "'source': source}}, created_at) AS latest FROM ({scores_all}) WHERE span_id IS NULL "
    "GROUP BY trace_id, name) s GROUP BY trace_id"
)
"""Structs sort by their first field, the name (``list_sort`` is ~3x cheaper than an
ordered aggregate here)."""

_NO_SCORES = "[]::STRUCT(name VARCHAR, value DOUBLE, label VARCHAR, source VARCHAR)[]"


# A run writes a row when it starts and one when it ends: the ended one wins.
_RUNS_VIEW = (
    "SELECT r.run_id, r.name, r.parent_run_id, r.status, r.error_type, r.error_message, "
    "r.params::JSON AS params, coalesce(r.tags, []::VARCHAR[]) AS tags, r.start_time, "
    "r.end_time, date_diff('microsecond', r.start_time, r.end_time) / 1000.0 AS duration_ms, "
    "r.environment_id, r.trace_id, r.parent_span_id, "
    "coalesce(s.n_traces, 0) AS n_traces, coalesce(s.n_spans, 0) AS n_spans "
    "FROM (SELECT * FROM ({runs_all}) QUALIFY row_number() OVER (PARTITION BY run_id "
    "ORDER BY (status <> 'running') DESC, recorded_at DESC) = 1) r "
    "LEFT JOIN (SELECT run_id, count(DISTINCT trace_id) AS n_traces, count(*) AS n_spans "
    "FROM spans WHERE run_id IS NOT NULL GROUP BY run_id) s ON s.run_id = r.run_id"
)

# One row per content; its kind, name and URI are those of its first logging (each
# logging's own name and URI are on its link).
_ARTIFACTS_VIEW = (
    "SELECT artifact_id, arg_min(kind, created_at) AS kind, arg_min(name, created_at) AS name, "
    "arg_min(uri, created_at) AS uri, any_value(size) AS size, "
    "arg_min(metadata, created_at)::JSON AS metadata, min(created_at) AS created_at "
    "FROM ({artifacts_all}) GROUP BY artifact_id"
)


def view_ddl(
    spool: Path, *, temporary: bool, segments: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """CREATE OR REPLACE statements for every public view over ``spool``.

    ``segments`` (spool folder -> segment files) binds the views to a fixed list of
    files instead of a glob; see `tracetape.store.connection`.
    """
    temp = "TEMP " if temporary else ""
    listed = segments or {}
    spans_all = _combined("spans", spool, listed.get("spans"))
    envs_all = _combined("environments", spool, listed.get("environments"))
    blobs_all = _combined("blobs", spool, listed.get("blobs"))
    scores_all = _combined("scores", spool, listed.get("scores"))
    runs_all = _combined("runs", spool, listed.get("runs"))
    artifacts_all = _combined("artifacts", spool, listed.get("artifacts"))
    links_all = _combined("artifact_links", spool, listed.get("artifact_links"))
    span_columns = SPAN_COLUMNS.replace(
        "input, output, attributes",
        "input::JSON AS input, output::JSON AS output, attributes::JSON AS attributes",
    )
    return [
        f"CREATE OR REPLACE {temp}VIEW spans AS SELECT {span_columns} FROM ({spans_all})",
        # Private: the span rows with every raw column (``replay`` too) and no casts.
        f"CREATE OR REPLACE {temp}VIEW _span_rows AS {spans_all}",
        f"CREATE OR REPLACE {temp}VIEW blobs AS "
        f"SELECT hash, any_value(content)::JSON AS content, any_value(size) AS size "
        f"FROM ({blobs_all}) GROUP BY hash",
        # Private: the payload rows before ``blobs`` merges a hash found in the table
        # and a segment. A reader that keys what it reads by hash (replay) skips the
        # grouping (~0.8 ms a read).
        f"CREATE OR REPLACE {temp}VIEW _blob_rows AS SELECT hash, content FROM ({blobs_all})",
        f"CREATE OR REPLACE {temp}VIEW environments AS "
        "SELECT environment_id, any_value(taken_at) AS taken_at, any_value(python) AS python, "
        "any_value(platform) AS platform, any_value(git_commit) AS git_commit, "
        "any_value(git_dirty_hash) AS git_dirty_hash, "
        "any_value(container_image) AS container_image, "
        "any_value(snapshot)::JSON AS snapshot "
        f"FROM ({envs_all}) GROUP BY environment_id",
        f"CREATE OR REPLACE {temp}VIEW scores AS " + _SCORES_VIEW.format(scores_all=scores_all),
        f"CREATE OR REPLACE {temp}VIEW traces AS "
        f"SELECT t.*, coalesce(sc.scores, {_NO_SCORES}) AS scores FROM (SELECT trace_id, "
        "arg_min(name, start_time) AS name, "
        "min(start_time) AS start_time, max(end_time) AS end_time, "
        "date_diff('microsecond', min(start_time), max(end_time)) / 1000.0 AS duration_ms, "
        "CASE WHEN count(*) FILTER (WHERE status = 'error') > 0 THEN 'error' "
        "WHEN bool_and(status = 'unset') THEN 'unset' ELSE 'ok' END AS status, "
        "count(*) AS n_spans, "
        "count(*) FILTER (WHERE kind = 'llm') AS n_llm, "
        "count(*) FILTER (WHERE kind = 'tool') AS n_tool, "
        "count(*) FILTER (WHERE kind = 'retriever') AS n_retriever, "
        "count(*) FILTER (WHERE status = 'error') AS n_errors, "
        "coalesce(sum(input_tokens) FILTER (WHERE kind = 'llm'), 0)::BIGINT AS input_tokens, "
        "coalesce(sum(output_tokens) FILTER (WHERE kind = 'llm'), 0)::BIGINT AS output_tokens, "
        "coalesce(list_sort(list_distinct(list(model) FILTER (WHERE model IS NOT NULL))), "
        "[]::VARCHAR[]) AS models, "
        "any_value(run_id) FILTER (WHERE run_id IS NOT NULL) AS run_id, "
        "any_value(replay_of) FILTER (WHERE replay_of IS NOT NULL) AS replay_of, "
        "list_sort(list_distinct(flatten(list(coalesce(tags, []))))) AS tags, "
        "any_value(environment_id) AS environment_id "
        "FROM spans GROUP BY trace_id) t "
        f"LEFT JOIN ({_TRACE_SCORES.format(scores_all=scores_all)}) sc "
        "ON sc.trace_id = t.trace_id",
        f"CREATE OR REPLACE {temp}VIEW runs AS " + _RUNS_VIEW.format(runs_all=runs_all),
        f"CREATE OR REPLACE {temp}VIEW artifacts AS "
        + with_derived_artifacts(_ARTIFACTS_VIEW.format(artifacts_all=artifacts_all)),
        f"CREATE OR REPLACE {temp}VIEW artifact_links AS "
        + with_derived_links(
            "SELECT link_id, artifact_id, run_id, "
            f"trace_id, span_id, role, name, uri, created_at FROM ({links_all})"
        ),
    ]


PUBLIC_VIEWS = (
    "spans",
    "traces",
    "scores",
    "environments",
    "blobs",
    "runs",
    "artifacts",
    "artifact_links",
)
