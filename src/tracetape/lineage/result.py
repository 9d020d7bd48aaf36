"""`Lineage`: what ``tape.lineage(x)`` returns — edges and nodes as DataFrames, a graph
in Jupyter (SVG), a tree in the terminal, OpenLineage events on request."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from tracetape.lineage.graph import EdgeKey, Node
from tracetape.spans.encode import dumps, to_jsonable

if TYPE_CHECKING:
    from rich.tree import Tree

EDGE_COLUMNS = (
    "source_id", "source_kind", "source_type", "target_id", "target_kind", "target_type",
    "relation", "attributes",
)  # fmt: skip
NODE_COLUMNS = ("node_id", "kind", "type", "name", "trace_id", "depth", "attributes")


def short_id(node_id: str) -> str:
    """An id cut for display: ``sha256:`` + 12 hex, ``run-`` + 8, spans and traces 8."""
    if node_id.startswith("sha256:"):
        return node_id[:19]
    if node_id.startswith(("run-", "env-")):
        return node_id[:12]
    return node_id[:8]


def label(node: Node) -> str:
    """A node's one-line name: ``llm ChatOpenAI``, ``dataset docs``, ``run nightly``."""
    if node.kind == "environment":
        python = node.attributes.get("python")
        return f"environment {short_id(node.node_id)}" + (f" (python {python})" if python else "")
    if node.kind == "run" and node.attributes.get("status"):
        return f"run {node.name} [{node.attributes['status']}]"
    if node.kind in ("run", "trace"):
        return f"{node.kind} {node.name}"
    return f"{node.type} {node.name}"


class Lineage:
    """The lineage of one span, trace, run, artifact or environment.

    ``edges`` has one row per edge (data flows from source to target: a dataset to the
    retriever span that returned its documents, a prompt or retriever span to the model
    call it fed, a span to its trace, a trace to its run, a run to what it wrote).
    ``nodes`` has one row per node with its ``depth``: negative upstream of the focus
    (what it came from), positive downstream (what came of it), 0 for the focus.

    Example:
        >>> lin = tape.lineage(span_id)
        >>> lin.nodes.query("type == 'dataset'")[["node_id", "name"]]
        >>> lin                      # a graph in Jupyter, a tree in a terminal
        >>> events = lin.to_openlineage()
    """

    def __init__(
        self,
        focus: str,
        nodes: Mapping[str, Node],
        edges: Mapping[EdgeKey, Mapping[str, Any]],
        depth: Mapping[str, int],
    ) -> None:
        self.focus = focus
        self.graph_nodes = dict(nodes)
        self.graph_edges = {key: dict(attrs) for key, attrs in edges.items()}
        self.depth = dict(depth)

    def __repr__(self) -> str:
        return (
            f"Lineage({self.focus!r}, nodes={len(self.graph_nodes)}, edges={len(self.graph_edges)})"
        )

    @property
    def edges(self) -> pd.DataFrame:
        """One row per edge: source, target (id, kind, type), relation, attributes (JSON)."""
        rows: list[dict[str, Any]] = []
        for (source, target, relation), attrs in self.graph_edges.items():
            src, dst = self.graph_nodes.get(source), self.graph_nodes.get(target)
            rows.append({
                "source_id": source, "source_kind": src.kind if src else None,
                "source_type": src.type if src else None, "target_id": target,
                "target_kind": dst.kind if dst else None, "target_type": dst.type if dst else None,
                "relation": relation, "attributes": dumps(to_jsonable(attrs)),
            })  # fmt: skip
        return pd.DataFrame(rows, columns=list(EDGE_COLUMNS))

    @property
    def nodes(self) -> pd.DataFrame:
        """One row per node: id, kind, type, name, trace, depth, attributes (JSON)."""
        rows = [
            {"node_id": n.node_id, "kind": n.kind, "type": n.type, "name": n.name,
             "trace_id": n.trace_id, "depth": self.depth.get(n.node_id, 0),
             "attributes": dumps(to_jsonable(n.attributes))}
            for n in sorted(self.graph_nodes.values(), key=self._order)
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=list(NODE_COLUMNS))

    def _order(self, node: Node) -> tuple[int, str, str, str]:
        return (self.depth.get(node.node_id, 0), node.kind, node.name, node.node_id)

    def upstream(self) -> list[str]:
        """Ids of every node upstream of the focus, nearest first."""
        return [n for n, d in sorted(self.depth.items(), key=lambda i: -i[1]) if d < 0]

    def downstream(self) -> list[str]:
        """Ids of every node downstream of the focus, nearest first."""
        return [n for n, d in sorted(self.depth.items(), key=lambda i: i[1]) if d > 0]

    def path(self, node_id: str) -> pd.DataFrame:
        """The shortest chain of edges between the focus and ``node_id`` (either way), as
        rows of `edges` in the order data flowed; empty when they are not connected.

        Example:
            >>> tape.lineage(answer_span_id).path(dataset.artifact_id)[["source_type",
            ...     "relation", "target_type"]]      # dataset -> retriever -> llm
        """
        up = self.depth.get(node_id, 0) < 0
        came: dict[str, tuple[str, str, str]] = {}
        frontier, seen = [self.focus], {self.focus}
        while frontier and node_id not in seen:
            following: list[str] = []
            for current in frontier:
                for key in sorted(self.graph_edges):
                    near, far = (key[1], key[0]) if up else (key[0], key[1])
                    if near == current and far not in seen:
                        seen.add(far)
                        came[far] = key
                        following.append(far)
            frontier = following
        chain: list[tuple[str, str, str]] = []
        current = node_id
        while current in came:
            chain.append(came[current])
            current = came[current][1] if up else came[current][0]
        keys = chain if up else chain[::-1]
        frame = self.edges
        order = {key: i for i, key in enumerate(self.graph_edges)}
        return frame.iloc[[order[k] for k in keys]].reset_index(drop=True)

    def attributes(self, node_id: str) -> dict[str, Any]:
        """A node's attributes as a dict (JSON-safe)."""
        value = json.loads(dumps(to_jsonable(self.graph_nodes[node_id].attributes)))
        return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]

    # -- display ------------------------------------------------------------------------
    def tree(self) -> Tree:
        """A rich tree: the focus, what it came from, what came of it."""
        from tracetape.lineage.tree import render_tree

        return render_tree(self)

    def __rich__(self) -> Tree:
        return self.tree()

    def svg(self) -> str:
        """The graph as a standalone SVG document (layered by depth, left to right)."""
        from tracetape.lineage.svg import render_svg

        return render_svg(self)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        return f'<div style="overflow-x: auto">{self.svg()}</div>'

    def _repr_mimebundle_(self, **_: Any) -> dict[str, str]:
        from tracetape.lineage.tree import plain_text

        svg = self.svg()
        return {
            "text/html": f'<div style="overflow-x: auto">{svg}</div>',
            "image/svg+xml": svg,
            "text/plain": plain_text(self),
        }

    def to_openlineage(self, namespace: str = "tracetape", *, start: bool = False) -> list[Any]:
        """OpenLineage ``RunEvent``s (openlineage-python): one per pipeline run and one
        per trace in this lineage, with the artifacts they read and wrote as datasets;
        ``start=True`` adds each one's ``START`` event before it. Needs
        ``pip install 'tracetape[lineage]'``.

        Example:
            >>> client = OpenLineageClient(); [client.emit(e) for e in lin.to_openlineage()]
        """
        from tracetape.lineage.openlineage import run_events

        return run_events(self, namespace, start=start)
