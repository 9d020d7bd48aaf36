"""Walk a tape's lineage from one node, upstream and downstream (`lineage`)."""

from __future__ import annotations

from tracetape.errors import NotFoundError
from tracetape.lineage.expand import Expander
from tracetape.lineage.graph import EdgeKey
from tracetape.lineage.ids import classify
from tracetape.lineage.result import Lineage
from tracetape.lineage.source import Query, Source


def resolve(source: Source, node_id: str) -> str:
    """The whole id ``node_id`` names (a trace prefix becomes its trace id).

    Raises `ValueError` for text that is no id, `NotFoundError` for an unknown or
    ambiguous trace prefix.
    """
    kind, normal = classify(node_id)
    if kind != "trace-prefix":
        return normal
    found = source.trace_prefix(normal)
    if len(found) != 1:
        state = "no trace" if not found else "more than one trace"
        raise NotFoundError(f"{state} starts with {normal!r}")
    return found[0]


_ID_ATTRIBUTES = ("artifact_id", "span_id", "run_id", "trace_id")
"""Where the id of an object passed instead of an id is, by precedence (a span also has
its trace id, an artifact its run's)."""


def id_of(node: object) -> str:
    """``node`` itself if it is an id, else the id of a `Run`, `Trace`, `SpanNode` or
    `Artifact` (any object with one of `_ID_ATTRIBUTES`)."""
    if isinstance(node, str):
        return node
    for name in _ID_ATTRIBUTES:
        value = getattr(node, name, None)
        if isinstance(value, str) and value:
            return value
    raise ValueError(
        f"{type(node).__name__} is no tracetape id: pass a span, trace, run, artifact or "
        "environment id, or a Run, Trace, SpanNode or Artifact"
    )


def lineage(query: Query, node: object, *, where: str = "the tape") -> Lineage:
    """Everything upstream of ``node`` (an id, or an object with one: see `id_of`) — what
    it came from — and downstream — what came of it —, read through ``query`` (a
    reader's ``arrow``).

    Raises `NotFoundError` when the tape holds no such span, trace, run, artifact or
    environment.

    Example:
        >>> lineage(reader.arrow, "00f067aa0ba902b7").edges
    """
    source = Source(query)
    focus = resolve(source, id_of(node))
    expander = Expander(source)
    graph = expander.graph
    # Both ways at once for the focus: a prompt or model artifact is only found through
    # the spans that used it.
    expander.ensure([focus], downstream=True)
    node = graph.nodes.get(focus)
    if node is None or node.placeholder:
        raise NotFoundError(f"no {expander.kind_of(focus)} {focus!r} on {where}")
    depth: dict[str, int] = {focus: 0}
    walked: set[EdgeKey] = set()
    for downstream in (False, True):
        frontier, seen, step = [focus], {focus}, 0
        while frontier:
            expander.ensure(frontier, downstream=downstream)
            step += 1
            following: list[str] = []
            for current in frontier:
                keys = graph.outgoing[current] if downstream else graph.incoming[current]
                for key in sorted(keys):
                    walked.add(key)
                    other = key[1] if downstream else key[0]
                    if other not in seen:
                        seen.add(other)
                        following.append(other)
                        depth.setdefault(other, step if downstream else -step)
            frontier = following
    nodes = {node_id: graph.nodes[node_id] for node_id in depth if node_id in graph.nodes}
    edges = {key: graph.edges[key] for key in sorted(walked)}
    return Lineage(focus, nodes, edges, depth)
