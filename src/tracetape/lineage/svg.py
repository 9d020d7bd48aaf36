"""A lineage as an SVG graph we draw ourselves (no graphviz): one column per depth,
upstream on the left, the focus highlighted, downstream on the right; edges are curves
with arrowheads from source to target, labelled with their relation. Each node has a
``<title>`` (its whole id) that shows as a tooltip. Built with `xml.etree`, so names are
escaped and the document is always well-formed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import TYPE_CHECKING

from tracetape.lineage.result import label, short_id

if TYPE_CHECKING:
    from tracetape.lineage.result import Lineage

NODE_W, NODE_H = 230, 42
COL_GAP, ROW_GAP, MARGIN = 90, 14, 16
MAX_CHARS = 32
MAX_NODES = 150
"""A lineage with more nodes draws the nearest ones and says how many it left out."""
NOTE_H = 18
FILLS: dict[str, str] = {
    "span": "#e0f2fe",
    "trace": "#f1f5f9",
    "run": "#f3e8ff",
    "artifact": "#dcfce7",
    "environment": "#f8fafc",
}
SVG_NS = "http://www.w3.org/2000/svg"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def drawn(lineage: Lineage, limit: int = MAX_NODES) -> list[str]:
    """The nodes to draw: all of them, or the ``limit`` nearest the focus (by depth)."""
    ids = sorted(lineage.graph_nodes, key=lambda i: (abs(lineage.depth.get(i, 0)), i))
    return ids[:limit]


def layout(lineage: Lineage, node_ids: list[str]) -> dict[str, tuple[float, float]]:
    """node id -> (x, y) of its box's top-left corner: a column per depth."""
    columns: defaultdict[int, list[str]] = defaultdict(list)
    for node_id in node_ids:
        columns[lineage.depth.get(node_id, 0)].append(node_id)
    first = min(columns) if columns else 0
    places: dict[str, tuple[float, float]] = {}
    for depth, ids in columns.items():
        ids.sort(key=lambda i: (lineage.graph_nodes[i].kind, lineage.graph_nodes[i].name, i))
        x = MARGIN + (depth - first) * (NODE_W + COL_GAP)
        for row, node_id in enumerate(ids):
            places[node_id] = (x, MARGIN + NOTE_H + row * (NODE_H + ROW_GAP))
    return places


def _defs(svg: ET.Element) -> None:
    defs = ET.SubElement(svg, "defs")
    marker = ET.SubElement(
        defs, "marker", id="tt-arrow", viewBox="0 0 10 10", refX="10", refY="5",
        markerWidth="7", markerHeight="7", orient="auto-start-reverse",
    )  # fmt: skip
    ET.SubElement(marker, "path", d="M 0 0 L 10 5 L 0 10 z", fill="#64748b")


def render_svg(lineage: Lineage) -> str:
    """The SVG document of ``lineage`` as text."""
    node_ids = drawn(lineage)
    places = layout(lineage, node_ids)
    left_out = len(lineage.graph_nodes) - len(node_ids)
    width = max((x for x, _ in places.values()), default=0) + NODE_W + MARGIN
    height = max((y for _, y in places.values()), default=0) + NODE_H + MARGIN
    svg = ET.Element(
        "svg", xmlns=SVG_NS, width=str(int(width)), height=str(int(height)),
        viewBox=f"0 0 {int(width)} {int(height)}", role="img",
        style="font-family: ui-sans-serif, system-ui, sans-serif; font-size: 12px",
    )  # fmt: skip
    ET.SubElement(svg, "title").text = f"lineage of {lineage.focus}"
    note = ET.SubElement(svg, "text", {"x": str(MARGIN), "y": str(MARGIN + 10), "fill": "#64748b"})
    note.text = f"lineage of {lineage.focus}: what it came from (left), what came of it (right)"
    if left_out:
        note.text += f"; {left_out} farther nodes not drawn (see .nodes)"
    _defs(svg)
    edges = ET.SubElement(svg, "g", {"class": "edges"})
    for source, target, relation in lineage.graph_edges:
        if source not in places or target not in places:
            continue
        (sx, sy), (tx, ty) = places[source], places[target]
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H / 2, tx, ty + NODE_H / 2
        bend = max(abs(x2 - x1) / 2, 40)
        path = ET.SubElement(
            edges, "path",
            {"d": f"M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}",
             "fill": "none", "stroke": "#94a3b8", "marker-end": "url(#tt-arrow)"},
        )  # fmt: skip
        ET.SubElement(path, "title").text = f"{relation}: {source} -> {target}"
        text = ET.SubElement(
            edges, "text",
            {"x": str((x1 + x2) / 2), "y": str((y1 + y2) / 2 - 3), "fill": "#64748b",
             "text-anchor": "middle", "font-size": "10"},
        )  # fmt: skip
        text.text = relation
    boxes = ET.SubElement(svg, "g", {"class": "nodes"})
    for node_id, (x, y) in places.items():
        node = lineage.graph_nodes[node_id]
        group = ET.SubElement(boxes, "g", {"class": f"node {node.kind}", "data-id": node_id})
        ET.SubElement(group, "title").text = f"{node.kind} {node_id}"
        focus = node_id == lineage.focus
        ET.SubElement(
            group, "rect",
            {"x": str(x), "y": str(y), "width": str(NODE_W), "height": str(NODE_H), "rx": "6",
             "fill": FILLS.get(node.kind, "#ffffff"), "stroke": "#0f172a" if focus else "#cbd5e1",
             "stroke-width": "2" if focus else "1"},
        )  # fmt: skip
        name = ET.SubElement(group, "text", {"x": str(x + 8), "y": str(y + 17)})
        name.text = _cut(label(node))
        sub = ET.SubElement(
            group, "text", {"x": str(x + 8), "y": str(y + 33), "fill": "#64748b", "font-size": "10"}
        )
        sub.text = f"{node.kind} · {short_id(node_id)}"
    return ET.tostring(svg, encoding="unicode")
