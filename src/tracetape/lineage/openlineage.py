"""Export a lineage as OpenLineage run events (openlineage-python, ``[lineage]`` extra).

``RunEvent``s for every pipeline run and every trace of the lineage, so Marquez, DataHub
or any OpenLineage consumer sees the same graph:

* a run is the job ``<run name>`` (job type ``PIPELINE_RUN``); a trace the job
  ``trace/<trace name>`` (``AGENT_TRACE``) whose ``parent`` facet names its run, as a
  nested run's names its parent run;
* run ids are the tracetape ids as UUIDs (a run's 32 hex characters after ``run-``,
  a trace id as it is);
* inputs and outputs are the artifacts linked to the run or trace, or to any span or
  trace inside it: a file artifact is the dataset ``file`` / its path, any other
  ``<namespace>`` / ``<kind>/<name>``; its content id is the ``version`` facet and a
  table's columns the ``schema`` facet;
* each run and trace has one event for its state: ``COMPLETE``, or ``FAIL`` (with an
  ``errorMessage`` facet), when it ended, with its inputs and outputs; ``RUNNING`` for a
  run still going. With ``start=True`` each also gets a ``START`` event first (when it
  started, with its inputs), which the spec asks of every run and which consumers that
  track run durations want.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlparse

from tracetape.errors import IntegrationMissingError
from tracetape.lineage.graph import Node
from tracetape.lineage.result import Lineage

PRODUCER = "https://pypi.org/project/tracetape/"


def _uuid(node_id: str) -> str:
    return str(uuid.UUID(hex=node_id.removeprefix("run-")[:32]))


def _time(value: Any) -> str:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.now(dt.UTC)
    return moment.isoformat()


def _job_name(node: Node) -> str:
    return node.name if node.kind == "run" else f"trace/{node.name}"


def _members(lineage: Lineage, node_id: str) -> set[str]:
    """The run or trace, the traces ``part_of`` it and every span of those traces."""
    focus = lineage.graph_nodes.get(node_id)
    traces = {node_id} if focus is not None and focus.kind == "trace" else set()
    for source, target, relation in lineage.graph_edges:
        node = lineage.graph_nodes.get(source)
        if (
            relation == "part_of"
            and target == node_id
            and node is not None
            and node.kind == "trace"
        ):
            traces.add(source)
    spans = {
        n.node_id for n in lineage.graph_nodes.values() if n.kind == "span" and n.trace_id in traces
    }
    return {node_id, *traces, *spans}


def _artifacts(lineage: Lineage, inside: set[str], incoming: bool) -> list[Node]:
    ids: set[str] = set()
    for source, target, _ in lineage.graph_edges:
        near, far = (target, source) if incoming else (source, target)
        node = lineage.graph_nodes.get(far)
        if near in inside and node is not None and node.kind == "artifact":
            ids.add(far)
    return [lineage.graph_nodes[i] for i in sorted(ids)]


def _parent(lineage: Lineage, node_id: str) -> Node | None:
    for source, target, relation in lineage.graph_edges:
        if source == node_id and relation == "part_of":
            node = lineage.graph_nodes.get(target)
            if node is not None and node.kind == "run":
                return node
    return None


def run_events(lineage: Lineage, namespace: str = "tracetape", *, start: bool = False) -> list[Any]:
    """The ``RunEvent``s of every run and trace of ``lineage`` (see the module docstring)."""
    try:
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )
        from openlineage.client.facet_v2 import (
            dataset_version_dataset,
            error_message_run,
            job_type_job,
            parent_run,
            schema_dataset,
        )
    except ImportError as exc:
        raise IntegrationMissingError(
            "OpenLineage export needs openlineage-python: pip install 'tracetape[lineage]'"
        ) from exc

    def dataset_args(node: Node) -> tuple[str, str, dict[str, Any]]:
        uri = node.attributes.get("uri")
        if isinstance(uri, str) and uri.startswith("file:"):
            ns, name = "file", unquote(urlparse(uri).path)
        else:
            ns, name = namespace, f"{node.type}/{node.name}"
        facets: dict[str, Any] = {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=node.node_id
            )
        }
        columns = (node.attributes.get("metadata") or {}).get("columns")
        if isinstance(columns, list):
            fields = [
                schema_dataset.SchemaDatasetFacetFields(name=str(c["name"]), type=str(c["type"]))
                for c in columns  # pyright: ignore[reportUnknownVariableType]
                if isinstance(c, dict) and "name" in c
            ]
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields)
        return ns, name, facets

    def inputs(nodes: Iterable[Node]) -> list[Any]:
        return [InputDataset(*dataset_args(n)[:2], facets=dataset_args(n)[2]) for n in nodes]

    def outputs(nodes: Iterable[Node]) -> list[Any]:
        return [OutputDataset(*dataset_args(n)[:2], facets=dataset_args(n)[2]) for n in nodes]

    events: list[Any] = []
    jobs = [n for n in lineage.graph_nodes.values() if n.kind in ("run", "trace")]
    for node in sorted(jobs, key=lambda n: (n.kind, n.node_id)):
        status = node.attributes.get("status")
        state = (
            RunState.FAIL if status in ("failed", "error")
            else RunState.RUNNING if status == "running" else RunState.COMPLETE
        )  # fmt: skip
        run_facets: dict[str, Any] = {}
        parent = _parent(lineage, node.node_id)
        if parent is not None:
            run_facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=_uuid(parent.node_id)),
                job=parent_run.Job(namespace=namespace, name=_job_name(parent)),
            )
        job_type = "PIPELINE_RUN" if node.kind == "run" else "AGENT_TRACE"
        job_facets: dict[str, Any] = {"jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="TRACETAPE", jobType=job_type)}  # fmt: skip
        inside = _members(lineage, node.node_id)
        read = _artifacts(lineage, inside, incoming=True)
        if start:
            started = RunEvent(
                eventType=RunState.START, eventTime=_time(node.attributes.get("start_time")),
                run=Run(runId=_uuid(node.node_id), facets=dict(run_facets)),
                job=Job(namespace=namespace, name=_job_name(node), facets=dict(job_facets)),
                inputs=inputs(read), producer=PRODUCER,
            )  # fmt: skip
            events.append(started)
        if state == RunState.FAIL:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=str(node.attributes.get("error") or "failed"), programmingLanguage="python"
            )
        events.append(
            RunEvent(
                eventType=state,
                eventTime=_time(
                    node.attributes.get("end_time") or node.attributes.get("start_time")
                ),
                run=Run(runId=_uuid(node.node_id), facets=run_facets),
                job=Job(namespace=namespace, name=_job_name(node), facets=job_facets),
                inputs=inputs(read),
                outputs=outputs(_artifacts(lineage, inside, incoming=False)),
                producer=PRODUCER,
            )
        )
    return events
