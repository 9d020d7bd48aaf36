"""Raw tables (private, may change with `SCHEMA_VERSION`) and the Arrow shape of segments."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 4

TS = pa.timestamp("us", tz="UTC")

SPAN_SCHEMA: Final = pa.schema(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("operation", pa.string()),
        ("start_time", TS),
        ("end_time", TS),
        ("duration_ms", pa.float64()),
        ("status", pa.string()),
        ("status_message", pa.string()),
        ("error_type", pa.string()),
        ("model", pa.string()),
        ("provider", pa.string()),
        ("tool_name", pa.string()),
        ("input", pa.string()),
        ("output", pa.string()),
        ("attributes", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("run_id", pa.string()),
        ("environment_id", pa.string()),
        ("replay_of", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("replayable", pa.bool_()),
        ("pid", pa.int64()),
        # v4: the attributes replay reads (all but the displayed inputs and outputs) of
        # the spans it reads them from; "{}" for the others. A few hundred bytes a call,
        # so a replay never decompresses ``attributes`` (~5 KB a span). NULL: older rows.
        ("replay", pa.string()),
    ]
)

BLOB_SCHEMA: Final = pa.schema(
    [("hash", pa.string()), ("content", pa.string()), ("size", pa.int64())]
)

ENVIRONMENT_SCHEMA: Final = pa.schema(
    [
        ("environment_id", pa.string()),
        ("taken_at", TS),
        ("python", pa.string()),
        ("platform", pa.string()),
        ("git_commit", pa.string()),
        ("git_dirty_hash", pa.string()),
        ("container_image", pa.string()),
        ("snapshot", pa.string()),
    ]
)

SCORE_SCHEMA: Final = pa.schema(
    [
        ("score_id", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("name", pa.string()),
        ("value", pa.float64()),
        ("label", pa.string()),
        ("comment", pa.string()),
        ("source", pa.string()),
        ("created_at", TS),
    ]
)

RUN_SCHEMA: Final = pa.schema(
    [
        ("record_id", pa.string()),  # run id + ":start" or ":end": one row per phase
        ("run_id", pa.string()),
        ("name", pa.string()),
        ("parent_run_id", pa.string()),
        ("status", pa.string()),
        ("error_type", pa.string()),
        ("error_message", pa.string()),
        ("params", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("start_time", TS),
        ("end_time", TS),
        ("environment_id", pa.string()),
        ("trace_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("pid", pa.int64()),
        ("recorded_at", TS),
    ]
)

ARTIFACT_SCHEMA: Final = pa.schema(
    [
        ("artifact_id", pa.string()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("uri", pa.string()),
        ("size", pa.int64()),
        ("metadata", pa.string()),
        ("created_at", TS),
    ]
)

ARTIFACT_LINK_SCHEMA: Final = pa.schema(
    [
        ("link_id", pa.string()),
        ("artifact_id", pa.string()),
        ("run_id", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("role", pa.string()),
        ("name", pa.string()),
        ("uri", pa.string()),
        ("created_at", TS),
    ]
)

SEGMENT_SCHEMAS: Final[dict[str, pa.Schema]] = {
    "spans": SPAN_SCHEMA,
    "blobs": BLOB_SCHEMA,
    "environments": ENVIRONMENT_SCHEMA,
    "scores": SCORE_SCHEMA,
    "runs": RUN_SCHEMA,
    "artifacts": ARTIFACT_SCHEMA,
    "artifact_links": ARTIFACT_LINK_SCHEMA,
}
"""Spool sub-folder -> Arrow schema of its Parquet segments."""

TABLES: Final[dict[str, str]] = {
    "spans": "_spans",
    "blobs": "_blobs",
    "environments": "_environments",
    "scores": "_scores",
    "runs": "_runs",
    "artifacts": "_artifacts",
    "artifact_links": "_artifact_links",
}
"""Spool sub-folder -> raw DuckDB table it folds into."""

_DUCK_TYPES: Final[dict[str, str]] = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
    "list<item: string>": "VARCHAR[]",
}

JSON_COLUMNS: Final = frozenset({"input", "output", "attributes", "snapshot", "params", "metadata"})


def create_table_sql(table: str, schema: pa.Schema) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for an Arrow schema (JSON columns typed JSON)."""
    cols = ", ".join(
        f"{field.name} {'JSON' if field.name in JSON_COLUMNS else _DUCK_TYPES[str(field.type)]}"
        for field in schema
    )
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols})"


def _v2_ddl() -> list[str]:
    # Tombstones: a deleted trace's spans and scores, and a deleted blob from a segment
    # written before its deletion (the name starts with its time in ns), never fold back.
    return [
        create_table_sql("_scores", SCORE_SCHEMA),
        "CREATE TABLE IF NOT EXISTS _deleted (trace_id VARCHAR, deleted_at TIMESTAMPTZ)",
        "CREATE TABLE IF NOT EXISTS _deleted_blobs (hash VARCHAR, deleted_ns BIGINT)",
    ]


def _v3_ddl() -> list[str]:
    return [
        create_table_sql("_runs", RUN_SCHEMA),
        create_table_sql("_artifacts", ARTIFACT_SCHEMA),
        create_table_sql("_artifact_links", ARTIFACT_LINK_SCHEMA),
    ]


def base_ddl() -> list[str]:
    """Every statement that creates the current schema version from nothing."""
    return [
        "CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE TABLE IF NOT EXISTS _folded (segment VARCHAR, folded_at TIMESTAMPTZ)",
        create_table_sql("_spans", SPAN_SCHEMA),
        create_table_sql("_blobs", BLOB_SCHEMA),
        create_table_sql("_environments", ENVIRONMENT_SCHEMA),
        *_v2_ddl(),
        *_v3_ddl(),
    ]


MIGRATIONS: Final[dict[int, list[str]]] = {
    1: _v2_ddl(),  # v2: feedback scores and deletion tombstones
    2: _v3_ddl(),  # v3: pipeline runs, artifacts and their links
    3: ["ALTER TABLE _spans ADD COLUMN IF NOT EXISTS replay VARCHAR"],  # v4: see SPAN_SCHEMA
}
"""from_version -> statements that bring a tape to from_version + 1 (forward only)."""
