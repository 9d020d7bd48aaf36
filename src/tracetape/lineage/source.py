"""The queries lineage reads a tape with, over the public views only.

Lineage draws the prompt and model artifacts a trace's spans used itself
(`tracetape.lineage.trace_edges`, with the edge's details), so it reads the logged rows of
``artifacts`` and ``artifact_links`` (``source = 'logged'``) and the derived links only to
find the traces that used an artifact (`artifact_traces`).

Every query is batched by a list of ids (``IN (SELECT unnest(?))``), so a walk costs a
few queries per step however wide it is. `Source` wraps the reader's ``arrow`` callable
(`tracetape.inspect.reader.TapeReader.arrow`); tests and the CLI use the same path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tracetape.spans import semconv

Query = Callable[[str, Sequence[Any] | None], pa.Table]

# The span kinds lineage draws (besides any span an artifact was linked to explicitly).
LINEAGE_KINDS = ("llm", "retriever", "prompt", "tool")

_SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, start_time, end_time, status, model, "
    "run_id, environment_id, attributes::VARCHAR AS attributes"
)


@dataclass
class Source:
    """Batched reads of spans, traces, runs, artifacts and links for a lineage walk."""

    query: Query

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """``sql`` as a list of dicts (one per row)."""
        return self.query(sql, params).to_pylist()

    def trace_spans(self, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The spans lineage draws of these traces, their attributes parsed, in start order."""
        found = self.rows(
            f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id IN (SELECT unnest(?)) AND "
            "(kind IN (SELECT unnest(?)) OR span_id IN (SELECT span_id FROM artifact_links "
            "WHERE source = 'logged' AND span_id IS NOT NULL)) ORDER BY start_time, span_id",
            [list(trace_ids), list(LINEAGE_KINDS)],
        )
        for row in found:
            row["attributes"] = json.loads(row["attributes"] or "{}")
        return found

    def traces(self, trace_ids: Sequence[str]) -> list[dict[str, Any]]:
        """One row per trace: name, times, status, run and environment."""
        return self.rows(
            "SELECT trace_id, arg_min(name, start_time) AS name, min(start_time) AS start_time, "
            "max(end_time) AS end_time, "
            "CASE WHEN bool_or(status = 'error') THEN 'error' ELSE 'ok' END AS status, "
            "any_value(run_id) FILTER (WHERE run_id IS NOT NULL) AS run_id, "
            "any_value(environment_id) AS environment_id "
            "FROM spans WHERE trace_id IN (SELECT unnest(?)) GROUP BY trace_id",
            [list(trace_ids)],
        )

    def span_traces(self, span_ids: Sequence[str]) -> dict[str, str]:
        """span id -> its trace id."""
        found = self.rows(
            "SELECT DISTINCT span_id, trace_id FROM spans WHERE span_id IN (SELECT unnest(?))",
            [list(span_ids)],
        )
        return {r["span_id"]: r["trace_id"] for r in found}

    def trace_prefix(self, prefix: str) -> list[str]:
        """Trace ids that start with ``prefix`` (at most two: enough to call it ambiguous)."""
        found = self.rows(
            "SELECT DISTINCT trace_id FROM spans WHERE starts_with(trace_id, ?) LIMIT 2", [prefix]
        )
        return [r["trace_id"] for r in found]

    def runs(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Rows of the ``runs`` view: these runs and their child runs (one scan)."""
        return self.rows(
            "SELECT run_id, name, parent_run_id, status, error_type, error_message, "
            "params::VARCHAR AS params, start_time, end_time, environment_id FROM runs "
            "WHERE run_id IN (SELECT unnest(?)) OR parent_run_id IN (SELECT unnest(?))",
            [list(run_ids), list(run_ids)],
        )

    def run_traces(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """trace id and run id of every trace these runs recorded."""
        return self.rows(
            "SELECT DISTINCT trace_id, run_id FROM spans WHERE run_id IN (SELECT unnest(?))",
            [list(run_ids)],
        )

    def environment_members(self, env_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(trace ids, run ids) recorded in these environments."""
        ids = [list(env_ids)]
        traces = self.rows(
            "SELECT DISTINCT trace_id FROM spans WHERE environment_id IN (SELECT unnest(?))", ids
        )
        runs = self.rows("SELECT run_id FROM runs WHERE environment_id IN (SELECT unnest(?))", ids)
        return [r["trace_id"] for r in traces], [r["run_id"] for r in runs]

    def environments(self, env_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Rows of the ``environments`` view (without the whole snapshot)."""
        return self.rows(
            "SELECT environment_id, python, platform, git_commit FROM environments "
            "WHERE environment_id IN (SELECT unnest(?))",
            [list(env_ids)],
        )

    def artifacts(self, artifact_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Rows of the ``artifacts`` view (logged artifacts)."""
        return self.rows(
            "SELECT artifact_id, kind, name, uri, size, metadata::VARCHAR AS metadata, "
            "created_at FROM artifacts WHERE source = 'logged' "
            "AND artifact_id IN (SELECT unnest(?))",
            [list(artifact_ids)],
        )

    def links(self, **by: Sequence[str]) -> list[dict[str, Any]]:
        """Logged rows of ``artifact_links`` whose artifact_id, run_id, trace_id or
        span_id (the keywords) is one of the ids given for it.

        Example:
            >>> source.links(trace_id=["4bf9..."], span_id=["00f0..."])
        """
        known = ("artifact_id", "run_id", "trace_id", "span_id")
        if set(by) - set(known):
            raise ValueError(f"links by artifact_id, run_id, trace_id or span_id, not {sorted(by)}")
        columns = [c for c in known if by.get(c)]
        if not columns:
            return []
        return self.rows(
            "SELECT link_id, artifact_id, run_id, trace_id, span_id, role, name "
            "FROM artifact_links WHERE source = 'logged' AND ("
            + " OR ".join(f"{c} IN (SELECT unnest(?))" for c in columns)
            + ")",
            [list(by[c]) for c in columns],
        )

    def dataset_members(self) -> list[dict[str, Any]]:
        """Every artifact that has members, with the members' blob (parsed)."""
        found = self.rows(
            "SELECT a.artifact_id, b.content::VARCHAR AS content FROM artifacts a "
            "JOIN blobs b ON b.hash = a.metadata->'members'->>'blob'"
        )
        for row in found:
            row["content"] = json.loads(row["content"] or "{}")
        return found

    def blobs(self, hashes: Sequence[str]) -> dict[str, Any]:
        """hash -> parsed content of these payload blobs."""
        found = self.rows(
            "SELECT hash, content::VARCHAR AS content FROM blobs WHERE hash IN (SELECT unnest(?))",
            [list(hashes)],
        )
        return {r["hash"]: json.loads(r["content"]) for r in found if r["content"] is not None}

    def artifact_traces(self, artifact_ids: Sequence[str]) -> list[str]:
        """Traces with a span that used one of these prompt or model artifacts (the
        derived links of ``artifact_links``)."""
        found = self.rows(
            "SELECT DISTINCT trace_id FROM artifact_links WHERE source = 'derived' "
            "AND artifact_id IN (SELECT unnest(?))",
            [list(artifact_ids)],
        )
        return [r["trace_id"] for r in found]

    def retrievals(self) -> list[dict[str, Any]]:
        """trace id and the document attributes of every retriever span (to find a
        dataset's uses): only the three attributes that name documents are read."""
        keys = (
            semconv.RETRIEVAL_DOCUMENTS, semconv.RETRIEVER_DOCUMENT_IDS, semconv.REPLAY_OUTPUT,
        )  # fmt: skip
        fields = ", ".join(f"attributes->'{k}' AS \"{k}\"" for k in keys)
        found = self.rows(f"SELECT trace_id, {fields} FROM spans WHERE kind = 'retriever'")
        return [
            {"trace_id": row["trace_id"], "attributes": {
                k: json.loads(row[k]) for k in keys if row[k] is not None}}
            for row in found
        ]  # fmt: skip
