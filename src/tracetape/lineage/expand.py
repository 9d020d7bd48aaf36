"""Read a tape's lineage lazily: `Expander.ensure` loads the edges that touch a node.

A walk asks for the nodes it has reached; the expander loads what it has not yet:

* a span or a trace: the trace's spans lineage draws, the edges among them and to the
  artifacts they used (`trace_edges`), its run and environment, and the artifacts
  linked to the trace or its spans;
* a run: its traces, child and parent runs, environment and linked artifacts;
* an artifact: its row and where it was linked (runs, traces, spans); walking
  downstream also the traces whose spans used it (a prompt template version, a model,
  a dataset's documents), which needs a scan of those spans;
* an environment: its row; walking downstream also the traces and runs recorded in it.

Explicit links (``artifact_links``) point to the most specific thing they name: the
span, else the trace, else the run. ``role="input"`` makes artifact -> thing
(``input``), ``"output"`` thing -> artifact (``output``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tracetape.lineage import trace_edges
from tracetape.lineage.graph import Graph, Node
from tracetape.lineage.ids import NodeKind, classify
from tracetape.lineage.source import Source
from tracetape.lineage.trace_edges import Dataset


class Expander:
    """Fills a `Graph` from a tape, a node's neighbourhood at a time."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.graph = Graph()
        self._traces: set[str] = set()
        self._read: set[str] = set()
        self._uses: set[str] = set()
        self._span_trace: dict[str, str] = {}
        self._datasets: list[Dataset] | None = None

    def kind_of(self, node_id: str) -> NodeKind:
        """The kind of a node already in the graph, else read from its id's form."""
        node = self.graph.nodes.get(node_id)
        if node is not None:
            return node.kind
        kind, _ = classify(node_id)
        if kind == "trace-prefix":
            raise ValueError(f"{node_id!r} is a prefix, not a whole id")
        return kind

    def datasets(self) -> list[Dataset]:
        """Every artifact with members (read once per walk)."""
        if self._datasets is None:
            rows = self.source.dataset_members()
            self._datasets = [
                trace_edges.dataset_from_blob(r["artifact_id"], r["content"]) for r in rows
            ]
        return self._datasets

    def ensure(self, node_ids: Iterable[str], *, downstream: bool) -> None:
        """Load the edges touching these nodes that a walk in one direction needs."""
        todo: dict[NodeKind, list[str]] = {}
        for node_id in node_ids:
            todo.setdefault(self.kind_of(node_id), []).append(node_id)
        spans = todo.get("span", [])
        missing = [s for s in spans if s not in self._span_trace]
        if missing:
            self._span_trace.update(self.source.span_traces(missing))
        traces = {*todo.get("trace", []), *(self._span_trace.get(s, "") for s in spans)} - {""}
        self.load_traces(sorted(traces))
        self.load_runs([r for r in todo.get("run", []) if r not in self._read])
        artifacts = todo.get("artifact", [])
        self.load_artifacts([a for a in artifacts if a not in self._read])
        envs = todo.get("environment", [])
        self.load_environments([e for e in envs if e not in self._read])
        if downstream:
            self.load_uses([a for a in artifacts if a not in self._uses])
            self.load_environment_members([e for e in envs if e not in self._uses])

    # -- traces and spans ---------------------------------------------------------------
    def load_traces(self, trace_ids: Sequence[str]) -> None:
        """Traces' spans, their edges, run, environment and linked artifacts."""
        fresh = [t for t in trace_ids if t not in self._traces]
        if not fresh:
            return
        self._traces.update(fresh)
        for row in self.source.traces(fresh):
            self._trace_node(row)
        spans = self.source.trace_spans(fresh)
        by_trace: dict[str, list[dict[str, Any]]] = {}
        for span in spans:
            by_trace.setdefault(span["trace_id"], []).append(span)
            self._span_trace[span["span_id"]] = span["trace_id"]
            info = {"start_time": span["start_time"], "status": span["status"]}
            self.graph.add_node(
                Node(span["span_id"], "span", span["kind"], span["name"], span["trace_id"], info)
            )
            self.graph.add_edge(span["span_id"], span["trace_id"], "part_of")
        retrievers = [s["attributes"] for s in spans if s["kind"] == "retriever"]
        wanted = [h for attrs in retrievers for h in trace_edges.needs_payload(attrs)]
        blobs = self.source.blobs(wanted) if wanted else {}
        datasets = self.datasets() if retrievers else []
        for group in by_trace.values():
            trace_edges.add_trace(self.graph, group, datasets, blobs)
        self._add_links(self.source.links(trace_id=fresh, span_id=[s["span_id"] for s in spans]))

    def _trace_node(self, row: Mapping[str, Any]) -> None:
        trace_id = row["trace_id"]
        info = {k: row[k] for k in ("start_time", "end_time", "status")}
        self.graph.add_node(
            Node(trace_id, "trace", "trace", row["name"] or trace_id, trace_id, info)
        )
        if row["run_id"]:
            self._placeholder(row["run_id"], "run")
            self.graph.add_edge(trace_id, row["run_id"], "part_of")
        if row["environment_id"]:
            self._placeholder(row["environment_id"], "environment")
            self.graph.add_edge(row["environment_id"], trace_id, "environment")

    # -- runs -------------------------------------------------------------------------
    def load_runs(self, run_ids: Sequence[str]) -> None:
        """Runs' rows, traces, child and parent runs, environment and linked artifacts."""
        if not run_ids:
            return
        self._read.update(run_ids)
        for row in self.source.runs(run_ids):  # these runs and their children
            info = {k: row[k] for k in ("status", "start_time", "end_time")}
            info["params"] = json.loads(row["params"] or "{}")
            if row["error_type"]:
                info["error"] = f"{row['error_type']}: {row['error_message']}"
            self.graph.add_node(Node(row["run_id"], "run", "run", row["name"], None, info))
            if row["parent_run_id"]:
                self._placeholder(row["parent_run_id"], "run")
                self.graph.add_edge(row["run_id"], row["parent_run_id"], "part_of")
            if row["environment_id"]:
                self._placeholder(row["environment_id"], "environment")
                self.graph.add_edge(row["environment_id"], row["run_id"], "environment")
        for row in self.source.run_traces(run_ids):
            self._placeholder(row["trace_id"], "trace")
            self.graph.add_edge(row["trace_id"], row["run_id"], "part_of")
        self._add_links(self.source.links(run_id=run_ids))

    # -- artifacts --------------------------------------------------------------------
    def load_artifacts(self, artifact_ids: Sequence[str]) -> None:
        """Logged artifacts' rows and every link to them."""
        if not artifact_ids:
            return
        self._read.update(artifact_ids)
        for row in self.source.artifacts(artifact_ids):
            meta = json.loads(row["metadata"] or "{}")
            info = {"uri": row["uri"], "size": row["size"], "metadata": meta}
            self.graph.add_node(
                Node(row["artifact_id"], "artifact", row["kind"], row["name"], None, info)
            )
        self._add_links(self.source.links(artifact_id=artifact_ids))

    def load_uses(self, artifact_ids: Sequence[str]) -> None:
        """The traces whose spans used these artifacts (prompt, model, dataset)."""
        if not artifact_ids:
            return
        self._uses.update(artifact_ids)
        wanted = set(artifact_ids)
        known = {
            a: n.type
            for a in artifact_ids
            if (n := self.graph.nodes.get(a)) is not None and not n.placeholder
        }
        unknown = [a for a in artifact_ids if a not in known]
        traces: set[str] = set()
        used = [a for a in artifact_ids if known.get(a) in ("prompt", "model")] + unknown
        if used:
            traces.update(self.source.artifact_traces(used))
        datasets = [d for d in self.datasets() if d.artifact_id in wanted]
        if datasets:
            traces.update(self._retrieving_traces(datasets))
        self.load_traces(sorted(traces))

    def _retrieving_traces(self, datasets: Sequence[Dataset]) -> set[str]:
        calls = self.source.retrievals()
        wanted = [h for c in calls for h in trace_edges.needs_payload(c["attributes"])]
        blobs = self.source.blobs(wanted) if wanted else {}
        return {
            c["trace_id"]
            for c in calls
            if trace_edges.dataset_matches(trace_edges.retrieved(c["attributes"], blobs), datasets)
        }

    # -- environments -----------------------------------------------------------------
    def load_environments(self, env_ids: Sequence[str]) -> None:
        """Environments' rows (Python, platform, git commit)."""
        if not env_ids:
            return
        self._read.update(env_ids)
        for row in self.source.environments(env_ids):
            info = {k: row[k] for k in ("python", "platform", "git_commit")}
            env_id = row["environment_id"]
            self.graph.add_node(Node(env_id, "environment", "environment", env_id, None, info))

    def load_environment_members(self, env_ids: Sequence[str]) -> None:
        """The traces and runs recorded in these environments."""
        if not env_ids:
            return
        self._uses.update(env_ids)
        traces, runs = self.source.environment_members(env_ids)
        self.load_traces(traces)
        self.load_runs([r for r in runs if r not in self._read])

    # -- links ------------------------------------------------------------------------
    def _add_links(self, links: Iterable[Mapping[str, Any]]) -> None:
        for link in links:
            artifact_id = link["artifact_id"]
            self._placeholder(artifact_id, "artifact")
            kind: NodeKind = "span" if link["span_id"] else "trace" if link["trace_id"] else "run"
            thing = link["span_id"] or link["trace_id"] or link["run_id"]
            if not thing:
                continue
            self._placeholder(thing, kind)
            attrs = {"link_id": link["link_id"], "name": link["name"]}
            if link["role"] == "output":
                self.graph.add_edge(thing, artifact_id, "output", **attrs)
            else:
                self.graph.add_edge(artifact_id, thing, "input", **attrs)

    def _placeholder(self, node_id: str, kind: NodeKind) -> None:
        self.graph.add_node(Node(node_id, kind, kind, node_id, placeholder=True))
