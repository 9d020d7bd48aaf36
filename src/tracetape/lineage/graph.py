"""The lineage graph: nodes (spans, traces, runs, artifacts, environments) and edges.

An edge points the way data flows: ``source`` was used to make ``target``. So a dataset
points to the retriever span that returned its documents, the retriever span and the
prompt span to the model call they fed, the model call to its trace, the trace to its
run, and a run to the artifacts it wrote. Walking *upstream* from a node follows edges
backwards (what it came from); *downstream* follows them forwards (what came of it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tracetape.lineage.ids import NodeKind

EdgeKey = tuple[str, str, str]
"""(source id, target id, relation): one edge."""


@dataclass
class Node:
    """One node: what it is (``kind``; ``type`` the span kind or artifact kind) and a name."""

    node_id: str
    kind: NodeKind
    type: str
    name: str
    trace_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict[str, Any])
    placeholder: bool = False
    """Known only by its id so far (an edge's end the walk has not read yet)."""


@dataclass
class Graph:
    """Nodes and edges read so far; `tracetape.lineage.expand` fills it as a walk goes."""

    nodes: dict[str, Node] = field(default_factory=dict[str, Node])
    edges: dict[EdgeKey, dict[str, Any]] = field(default_factory=dict[EdgeKey, dict[str, Any]])
    incoming: defaultdict[str, set[EdgeKey]] = field(
        default_factory=lambda: defaultdict[str, set[EdgeKey]](set)
    )
    outgoing: defaultdict[str, set[EdgeKey]] = field(
        default_factory=lambda: defaultdict[str, set[EdgeKey]](set)
    )

    def add_node(self, node: Node) -> Node:
        """Add ``node``; one with its id already there stays, unless it is a placeholder
        (then ``node`` replaces it, keeping its attributes)."""
        known = self.nodes.get(node.node_id)
        if known is None or (known.placeholder and not node.placeholder):
            if known is not None:
                node.attributes = {**known.attributes, **node.attributes}
            self.nodes[node.node_id] = node
            return node
        return known

    def add_edge(self, source: str, target: str, relation: str, **attributes: Any) -> None:
        """Add an edge (once; a repeated one merges its attributes)."""
        key = (source, target, relation)
        self.edges.setdefault(key, {}).update(attributes)
        self.outgoing[source].add(key)
        self.incoming[target].add(key)
