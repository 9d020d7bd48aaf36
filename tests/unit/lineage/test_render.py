"""Drawing a lineage: an SVG that is well-formed whatever the names hold and bounded in
size, and a tree that counts what it does not list."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tracetape.lineage.graph import Node
from tracetape.lineage.result import Lineage
from tracetape.lineage.svg import MAX_NODES

SVG = "{http://www.w3.org/2000/svg}"


def _fan(n: int) -> Lineage:
    """One dataset and ``n`` retriever spans that read it, at growing depth."""
    nodes = {"sha256:d": Node("sha256:d", "artifact", "dataset", '<docs> & "more"')}
    edges = {}
    depth = {"sha256:d": 0}
    for i in range(n):
        span_id = f"{i:016x}"
        nodes[span_id] = Node(span_id, "span", "retriever", f"retriever {i}", "t" * 32)
        edges[("sha256:d", span_id, "retrieved_from")] = {}
        depth[span_id] = 1 + i // 50
    return Lineage("sha256:d", nodes, edges, depth)


def test_names_are_escaped_and_the_focus_is_drawn() -> None:
    root = ET.fromstring(_fan(2).svg())
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert 'dataset <docs> & "more"' in labels
    assert len(root.findall(f".//{SVG}rect")) == 3


def test_a_large_lineage_draws_the_nearest_nodes_and_says_how_many_it_left_out() -> None:
    lineage = _fan(MAX_NODES + 49)
    root = ET.fromstring(lineage.svg())
    boxes = root.findall(f"./{SVG}g[@class='nodes']/{SVG}g")
    assert len(boxes) == MAX_NODES
    drawn = {b.get("data-id") for b in boxes}
    assert "sha256:d" in drawn and f"{0:016x}" in drawn  # the focus and the nearest
    assert f"{MAX_NODES + 48:016x}" not in drawn  # the farthest
    assert any("50 farther nodes not drawn" in (t.text or "") for t in root.iter(f"{SVG}text"))
    arrows = root.findall(f"./{SVG}g[@class='edges']/{SVG}path")
    assert len(arrows) == MAX_NODES - 1  # only between drawn nodes


def test_the_tree_counts_what_it_does_not_list() -> None:
    from tracetape.lineage.tree import MAX_CHILDREN, plain_text

    text = plain_text(_fan(MAX_CHILDREN + 5))
    assert "… and 5 more (see .edges)" in text
    assert text.count("retrieved_from: retriever") == MAX_CHILDREN
