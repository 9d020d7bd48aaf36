"""A `Diff` for the terminal: a rich tree of causes with their effects under them (a
template edit says how many renderings it implies instead of listing them), the declared
params, the context, and a table of timings and tokens (apart: they are never causes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from tracetape.diff.causes import PackageChange, PromptChange
from tracetape.diff.changes import Change, FieldsChange
from tracetape.diff.changes import Group as CauseGroup
from tracetape.diff.effects import OutputChange, StepChange, TraceChange
from tracetape.inspect.render.text import to_plain

if TYPE_CHECKING:
    from tracetape.diff.result import Diff

MAX_METRIC_ROWS = 30
MAX_CAUSE_ROWS = 25
_DIFF_STYLES = (("+", "green"), ("-", "red"), ("@@", "cyan"))
_SHOWN_IN_DETAIL = PromptChange | OutputChange | FieldsChange


def _detail(text: str) -> Text:
    out = Text()
    for i, line in enumerate(text.splitlines()):
        style = next((s for prefix, s in _DIFF_STYLES if line.startswith(prefix)), "dim")
        out.append(("\n" if i else "") + line, style=style)
    return out


def _line(change: Change, marker: str, style: str) -> Text:
    line = Text(f"{marker} ", style=style)
    line.append(f"{change.kind} ", style=f"bold {style}")
    line.append(change.subject, style="bold")
    if isinstance(change, PackageChange):
        line.append(f" {change.status}")
    if isinstance(change, _SHOWN_IN_DETAIL):
        return line  # the lines under it say what changed
    if isinstance(change, StepChange | TraceChange):
        line.append(
            f" only in {change.only_in.upper()}", style="red" if change.only_in == "a" else "green"
        )
        return line
    line.append(": ")
    line.append(change.before, style="red")
    line.append(" → ")
    line.append(change.after, style="green")
    return line


def _add(tree: Tree, change: Change, marker: str, style: str) -> Tree:
    node = tree.add(_line(change, marker, style))
    if change.detail and not isinstance(change, PackageChange):
        node.add(_detail(change.detail))
    return node


def _group(tree: Tree, group: CauseGroup) -> None:
    if not group.causes:
        node = tree.add(Text("? unexplained (no recorded cause differs)", style="bold yellow"))
    elif len(group.causes) == 1:
        node = _add(tree, group.causes[0], "●", "magenta")
    else:  # the environment's changes, which together own their effects
        node = tree.add(Text(f"● {len(group.causes)} environment changes", style="bold magenta"))
        for cause in group.causes[:MAX_CAUSE_ROWS]:
            _add(node, cause, "●", "magenta")
        if len(group.causes) > MAX_CAUSE_ROWS:
            more = len(group.causes) - MAX_CAUSE_ROWS
            node.add(Text(f"… {more} more in Diff.causes", style="dim"))
    for effect in group.effects:
        _add(node, effect, "↳", "blue")


def _metrics(diff: Diff) -> Table:
    table = Table(title="timings and tokens (never causes)", title_justify="left")
    for column in ("step", "metric", "A", "B", "Δ"):
        table.add_column(column, justify="left" if column in ("step", "metric") else "right")
    # Totals first; then per step, as many as fit.
    ordered = sorted(diff.metrics, key=lambda m: m.step not in ("total", "run"))
    for metric in ordered[:MAX_METRIC_ROWS]:
        delta = metric.delta
        shown = "" if delta is None else f"{delta:+.1f}"
        table.add_row(metric.step, metric.metric, metric.before, metric.after, shown)
    if len(ordered) > MAX_METRIC_ROWS:
        table.caption = f"… {len(ordered) - MAX_METRIC_ROWS} more rows in Diff.metrics"
    return table


def renderable(diff: Diff) -> RenderableType:
    """The whole report as one rich renderable."""
    head = Text(f"diff of {diff.what}s ", style="bold")
    head.append(f"A {diff.a}", style="red")
    head.append(" ↔ ")
    head.append(f"B {diff.b}", style="green")
    if any(diff.names) and diff.names[0] != diff.names[1]:
        head.append(f"  ({diff.names[0]} ↔ {diff.names[1]})")
    tree = Tree(head)
    if diff.is_empty:
        tree.add(Text("no change (timings aside)", style="bold green"))
    causes = [g for g in diff.groups if g.causes]
    if causes:
        branch = tree.add(Text(f"causes ({len(diff.causes)}) and their effects", style="bold"))
        for group in causes:
            _group(branch, group)
    for group in diff.groups:
        if not group.causes:
            _group(tree, group)
    if diff.declared:
        branch = tree.add(Text("declared run params (not causes)", style="bold"))
        for param in diff.declared:
            _add(branch, param, "=", "cyan")
    if diff.context:
        branch = tree.add(Text("context (informational, not causes)", style="bold"))
        for context in diff.context:
            _add(branch, context, "·", "dim")
    parts: list[RenderableType] = [tree]
    if diff.metrics:
        parts.append(_metrics(diff))
    return Group(*parts)


def plain(diff: Diff, *, width: int = 100) -> str:
    """The report as plain text (no colours)."""
    return to_plain(renderable(diff), width=width).rstrip("\n")
