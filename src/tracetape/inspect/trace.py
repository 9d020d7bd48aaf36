"""`Trace`: one recorded trace as a span tree, DataFrames, a query API and its views."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd

from tracetape.errors import NotFoundError
from tracetape.inspect.query import Searchable
from tracetape.inspect.span import SCORE_COLUMNS, SpanNode

if TYPE_CHECKING:
    from rich.tree import Tree


def _start_key(node: SpanNode) -> tuple[bool, pd.Timestamp | None]:
    return (node.start_time is None, node.start_time)


class Trace(Searchable):
    """A recorded trace: its spans as a tree of `SpanNode`, as DataFrames, and as views.

    In a notebook it shows as an HTML waterfall of its span tree (click a span for its
    inputs and outputs); in a terminal (``rich.print(trace)``) as a text tree.

    Example:
        >>> trace = tape.trace(trace_id)
        >>> trace.llm_calls[["model", "input_tokens", "output_tokens"]]
        >>> failed = trace.first(kind="tool", failed=True)
        >>> failed.input, failed.status_message, failed.parent.name
        >>> slow = trace.find(min_duration_ms=500)
    """

    def __init__(
        self, trace_id: str, spans: pd.DataFrame, scores: pd.DataFrame | None = None
    ) -> None:
        self.trace_id = trace_id
        self.spans = spans.reset_index(drop=True)
        """Every span as a row of the ``spans`` view (JSON columns as text)."""
        if scores is None:
            scores = pd.DataFrame(columns=list(SCORE_COLUMNS))
        self.scores = scores.reset_index(drop=True)
        """Scores attached to the trace (``span_id`` null) or to its spans."""

    def __repr__(self) -> str:
        return f"Trace({self.trace_id}, {len(self.spans)} spans)"

    # -- DataFrames ----------------------------------------------------------------------
    def _of_kind(self, kind: str) -> pd.DataFrame:
        return self.spans.loc[self.spans["kind"] == kind].reset_index(drop=True)

    @property
    def llm_calls(self) -> pd.DataFrame:
        """The model-call spans."""
        return self._of_kind("llm")

    @property
    def tool_calls(self) -> pd.DataFrame:
        """The tool-execution spans."""
        return self._of_kind("tool")

    @property
    def retrievals(self) -> pd.DataFrame:
        """The retriever spans."""
        return self._of_kind("retriever")

    @property
    def prompts(self) -> pd.DataFrame:
        """The prompt-template spans (template, variables and hash in ``attributes``)."""
        return self._of_kind("prompt")

    # -- the tree ------------------------------------------------------------------------
    @cached_property
    def roots(self) -> list[SpanNode]:
        """The spans whose parent is not in this trace, by start time."""
        nodes = [SpanNode(row, self) for row in self.spans.to_dict("records")]
        nodes.sort(key=_start_key)  # stable: equal starts keep the frame's order
        by_id: dict[str, SpanNode] = {}
        for node in nodes:
            by_id.setdefault(node.span_id, node)
        roots: list[SpanNode] = []
        for node in nodes:
            parent = by_id.get(node.parent_span_id or "")
            if parent is None or parent is node:
                roots.append(node)
            else:
                node.parent = parent
                parent.children.append(node)
        reached = {id(n) for root in roots for n in (root, *root.descendants)}
        for node in nodes:  # a parent cycle (a corrupt record) is shown from its first span
            if id(node) not in reached:
                if node.parent is not None:
                    node.parent.children.remove(node)
                    node.parent = None
                roots.append(node)
                reached.update(id(n) for n in (node, *node.descendants))
        return roots

    @property
    def root(self) -> SpanNode:
        """The earliest span whose parent is not in this trace."""
        if not self.roots:
            raise NotFoundError(f"trace {self.trace_id} has no spans")
        return self.roots[0]

    def walk(self) -> Iterator[tuple[int, SpanNode]]:
        """(depth, span) pairs in tree order, children by start time."""
        stack: list[tuple[int, SpanNode]] = [(0, r) for r in reversed(self.roots)]
        while stack:
            depth, node = stack.pop()
            yield depth, node
            stack.extend((depth + 1, child) for child in reversed(node.children))

    def __iter__(self) -> Iterator[SpanNode]:
        """Every span in tree order."""
        return (node for _, node in self.walk())

    def __len__(self) -> int:
        return len(self.spans)

    def _scope(self) -> Iterable[SpanNode]:
        return iter(self)

    @cached_property
    def _by_id(self) -> dict[str, SpanNode]:
        by_id: dict[str, SpanNode] = {}
        for node in self:
            by_id.setdefault(node.span_id, node)
        return by_id

    def span(self, span_id: str) -> SpanNode:
        """One span of this trace by its id; raises `NotFoundError` for an unknown one."""
        try:
            return self._by_id[span_id]
        except KeyError:
            raise NotFoundError(f"no span {span_id!r} in trace {self.trace_id}") from None

    # -- summary -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The root span's name."""
        return self.root.name if len(self.spans) else ""

    @property
    def status(self) -> str:
        """``error`` if any span failed, ``unset`` if none set a status, else ``ok``."""
        statuses = {node.status for node in self}
        if "error" in statuses:
            return "error"
        return "unset" if statuses <= {"unset"} else "ok"

    @property
    def duration_ms(self) -> float | None:
        """From the first span's start to the last span's end."""
        starts = [n.start_time for n in self if n.start_time is not None]
        ends = [n.end_time for n in self if n.end_time is not None]
        if not starts or not ends:
            return self.root.duration_ms if len(self.spans) else None
        return (max(ends) - min(starts)).total_seconds() * 1000

    @property
    def input(self) -> Any:
        """The root span's input (parsed JSON)."""
        return self.root.input

    @property
    def output(self) -> Any:
        """The root span's output (parsed JSON)."""
        return self.root.output

    # -- views ---------------------------------------------------------------------------
    def tree(self, *, full: bool = False, max_chars: int = 800) -> Tree:
        """The span tree as a rich renderable; ``full`` adds inputs and outputs.

        Example:
            >>> rich.print(tape.trace(trace_id).tree(full=True))
        """
        from tracetape.inspect.render.text import score_labels, spans_tree, trace_title

        return spans_tree(
            trace_title(self.trace_id, self.spans, self.scores),
            self.walk(),
            full=full,
            max_chars=max_chars,
            scores=score_labels(self.scores),
        )

    def text(self, *, full: bool = False, width: int = 100) -> str:
        """The span tree as plain text (no colour), e.g. for logs and doctests."""
        from tracetape.inspect.render.text import to_plain

        return to_plain(self.tree(full=full), width=width)

    def html(self) -> str:
        """The trace as a self-contained HTML fragment (what a notebook shows).

        Example:
            >>> Path("trace.html").write_text(trace.html())
        """
        from tracetape.inspect.render.html import trace_html

        return trace_html(self)

    def __rich__(self) -> Tree:
        return self.tree()

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None, **kwargs: object
    ) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}
