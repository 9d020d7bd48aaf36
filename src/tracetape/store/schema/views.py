"""The stable public views: ``spans``, ``traces``, ``environments`` (and room for more).

Each view reads the folded DuckDB table together with the spool's Parquet segments that
are not folded yet, so a reader sees spans the moment a recording process spooled them.
"""

from __future__ import annotations

from pathlib import Path

from tracetape.store.schema.tables import SEGMENT_SCHEMAS, TABLES

SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, operation, start_time, end_time, "
    "duration_ms, status, status_message, error_type, model, provider, tool_name, "
    "input, output, attributes, input_tokens, output_tokens, run_id, environment_id, "
    "replay_of, tags, replayable"
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _combined(folder: str, spool: Path) -> str:
    """SQL selecting the raw table plus unfolded segments of one spool folder."""
    table = TABLES[folder]
    glob = _quote(str(spool / folder / "*.parquet"))
    names = ", ".join(field.name for field in SEGMENT_SCHEMAS[folder])
    return (
        f"SELECT {names} FROM {table} UNION ALL BY NAME "
        f"SELECT {names} FROM read_parquet({glob}, filename = true) "
        "WHERE parse_filename(filename) NOT IN (SELECT segment FROM _folded)"
    )


def view_ddl(spool: Path, *, temporary: bool) -> list[str]:
    """CREATE OR REPLACE statements for every public view over ``spool``."""
    temp = "TEMP " if temporary else ""
    spans_all = _combined("spans", spool)
    envs_all = _combined("environments", spool)
    blobs_all = _combined("blobs", spool)
    span_columns = SPAN_COLUMNS.replace(
        "input, output, attributes",
        "input::JSON AS input, output::JSON AS output, attributes::JSON AS attributes",
    )
    return [
        f"CREATE OR REPLACE {temp}VIEW spans AS SELECT {span_columns} FROM ({spans_all})",
        f"CREATE OR REPLACE {temp}VIEW blobs AS "
        f"SELECT hash, any_value(content)::JSON AS content, any_value(size) AS size "
        f"FROM ({blobs_all}) GROUP BY hash",
        f"CREATE OR REPLACE {temp}VIEW environments AS "
        "SELECT environment_id, any_value(taken_at) AS taken_at, any_value(python) AS python, "
        "any_value(platform) AS platform, any_value(git_commit) AS git_commit, "
        "any_value(git_dirty_hash) AS git_dirty_hash, "
        "any_value(container_image) AS container_image, "
        "any_value(snapshot)::JSON AS snapshot "
        f"FROM ({envs_all}) GROUP BY environment_id",
        f"CREATE OR REPLACE {temp}VIEW traces AS "
        "SELECT trace_id, "
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
        "FROM spans GROUP BY trace_id",
    ]


PUBLIC_VIEWS = ("spans", "traces", "environments", "blobs")
