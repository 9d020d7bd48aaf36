"""A lineage as a tree for the terminal: the focus, then what it came from (upstream)
and what came of it (downstream), one line per node with the relation that links it.

A node reached twice is printed once in full; later it shows as ``… (above)``. A node
with more than `MAX_CHILDREN` children shows that many and counts the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from rich.tree import Tree

from tracetape.inspect.render.text import to_plain
from tracetape.lineage.result import label, short_id

if TYPE_CHECKING:
    from tracetape.lineage.result import Lineage

STYLES: dict[str, str] = {
    "span": "cyan",
    "trace": "bold",
    "run": "bold magenta",
    "artifact": "green",
    "environment": "dim",
}


def _line(lineage: Lineage, node_id: str, relation: str | None) -> Text:
    node = lineage.graph_nodes.get(node_id)
    text = Text()
    if relation:
        text.append(f"{relation}: ", style="dim italic")
    if node is None:
        text.append(node_id)
        return text
    text.append(label(node), style=STYLES.get(node.kind, ""))
    text.append(f"  {short_id(node_id)}", style="dim")
    return text


MAX_CHILDREN = 40
"""Children shown under one node; the rest are counted (``.edges`` has them all)."""
_KIND_ORDER = {"artifact": 0, "span": 1, "trace": 2, "run": 3, "environment": 4}


def _order(lineage: Lineage, node_id: str) -> tuple[int, str, str]:
    """Artifacts first, then spans in the order they started, then the rest by name."""
    node = lineage.graph_nodes.get(node_id)
    if node is None:
        return (9, "", node_id)
    start = node.attributes.get("start_time")
    return (_KIND_ORDER.get(node.kind, 9), str(start) if start else node.name, node_id)


def _grow(lineage: Lineage, branch: Tree, node_id: str, up: bool, shown: set[str]) -> None:
    keys = [k for k in lineage.graph_edges if (k[1] if up else k[0]) == node_id]
    keys.sort(key=lambda k: _order(lineage, k[0] if up else k[1]))
    if len(keys) > MAX_CHILDREN:
        more = len(keys) - MAX_CHILDREN
        keys = keys[:MAX_CHILDREN]
        branch.add(Text(f"… and {more} more (see .edges)", style="dim"))
    for source, target, relation in keys:
        other = source if up else target
        line = _line(lineage, other, relation)
        if other in shown:
            branch.add(line.append(" … (above)", style="dim"))
            continue
        shown.add(other)
        _grow(lineage, branch.add(line), other, up, shown)


def render_tree(lineage: Lineage) -> Tree:
    """The rich tree of ``lineage`` (see the module docstring)."""
    root = Tree(_line(lineage, lineage.focus, None))
    for up, title in (
        (True, "upstream: what it came from"),
        (False, "downstream: what came of it"),
    ):
        branch = root.add(Text(title, style="bold"))
        _grow(lineage, branch, lineage.focus, up, {lineage.focus})
        if not branch.children:
            branch.add(Text("nothing", style="dim"))
    return root


def plain_text(lineage: Lineage, width: int = 120) -> str:
    """The tree as plain text (no colour), for a notebook's text fallback and logs."""
    return to_plain(render_tree(lineage), width=width)
