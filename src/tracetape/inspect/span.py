"""`SpanNode`: one recorded span, its columns as attributes, linked into its trace's tree.

Get one from a trace (``trace.first(kind="llm")``, ``trace.span(span_id)``, iterating a
trace) or from the tape (``tape.span(span_id)``). It shows as HTML in a notebook and as a
tree with its inputs, outputs and attributes in a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Unpack

import pandas as pd

from tracetape.inspect.query import Predicate, Searchable, SpanFilter, find_in, first_in
from tracetape.inspect.render.text import value

if TYPE_CHECKING:
    from rich.tree import Tree

    from tracetape.inspect.trace import Trace

_TEXT_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "operation",
    "status",
    "status_message",
    "error_type",
    "model",
    "provider",
    "tool_name",
    "run_id",
    "environment_id",
    "replay_of",
)
_JSON_COLUMNS = ("input", "output", "attributes")
_COLUMNS = frozenset(
    (
        *_TEXT_COLUMNS,
        *_JSON_COLUMNS,
        "start_time",
        "end_time",
        "duration_ms",
        "input_tokens",
        "output_tokens",
        "tags",
        "replayable",
    )
)
SCORE_COLUMNS = ("trace_id", "span_id", "name", "value", "label", "comment", "source", "created_at")
"""The columns of a scores frame (``tape.score`` writes them; the ``scores`` view)."""


def parse_json(raw: Any) -> Any:
    """A JSON column's value as Python: text is parsed, anything else kept as it is."""
    raw = value(raw)
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _text(raw: Any) -> str | None:
    raw = value(raw)
    return None if raw is None else str(raw)


def _int(raw: Any) -> int | None:
    raw = value(raw)
    return None if raw is None else int(raw)


def _timestamp(raw: Any) -> pd.Timestamp | None:
    stamp = pd.Timestamp(raw) if value(raw) is not None else None
    return stamp if isinstance(stamp, pd.Timestamp) else None


class SpanNode(Searchable):
    """One span: every column of the ``spans`` view as an attribute, and its tree links.

    ``input``, ``output`` and ``attributes`` are parsed JSON. ``node["name"]`` works
    too (as on the dict ``tape.span`` used to return). ``find``/``first``/``any`` search
    the span's descendants; the ``_child``/``_descendant``/``_ancestor`` variants say
    where to look.

    Example:
        >>> llm = trace.first(kind="llm")
        >>> llm.model, llm.input_tokens, llm.parent.name
        >>> llm.first_ancestor(kind="node").attributes["tracetape.langgraph.node"]
        >>> tape.span(span_id)  # shows as HTML in a notebook
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    operation: str | None
    status: str
    status_message: str | None
    error_type: str | None
    model: str | None
    provider: str | None
    tool_name: str | None
    run_id: str | None
    environment_id: str | None
    replay_of: str | None
    start_time: pd.Timestamp | None
    end_time: pd.Timestamp | None
    duration_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    tags: list[str]
    replayable: bool | None

    def __init__(self, row: Mapping[str, Any], trace: Trace | None = None) -> None:
        self.row: dict[str, Any] = dict(row)
        """The span's row as the ``spans`` view returned it (JSON columns as text)."""
        self.trace = trace
        """The `Trace` this span belongs to (None for a span built on its own)."""
        self.parent: SpanNode | None = None
        """The parent span, None for a root (or when the parent was not recorded)."""
        self.children: list[SpanNode] = []
        """Child spans, by start time."""
        for column in _TEXT_COLUMNS:
            setattr(self, column, _text(row.get(column)))
        self.name = self.name or ""
        self.kind = self.kind or "chain"
        self.status = self.status or "unset"
        self.start_time = _timestamp(row.get("start_time"))
        self.end_time = _timestamp(row.get("end_time"))
        duration = value(row.get("duration_ms"))
        self.duration_ms = None if duration is None else float(duration)
        self.input_tokens = _int(row.get("input_tokens"))
        self.output_tokens = _int(row.get("output_tokens"))
        tags = value(row.get("tags"))
        self.tags = [str(t) for t in tags] if tags is not None else []
        replayable = value(row.get("replayable"))
        self.replayable = None if replayable is None else bool(replayable)

    # -- columns -------------------------------------------------------------------------
    @cached_property
    def input(self) -> Any:
        """The span's input (parsed JSON): messages, tool arguments, query, inputs."""
        return parse_json(self.row.get("input"))

    @cached_property
    def output(self) -> Any:
        """The span's output (parsed JSON): message, tool result, documents, outputs."""
        return parse_json(self.row.get("output"))

    @cached_property
    def attributes(self) -> dict[str, Any]:
        """Every recorded attribute by its semconv name."""
        parsed = parse_json(self.row.get("attributes"))
        return dict(parsed) if isinstance(parsed, Mapping) else {}

    @property
    def failed(self) -> bool:
        """Whether the span ended with an error."""
        return self.status == "error"

    @property
    def scores(self) -> pd.DataFrame:
        """The scores attached to this span (empty when none, or outside a trace)."""
        if self.trace is None:
            return pd.DataFrame(columns=list(SCORE_COLUMNS))
        scores = self.trace.scores
        if scores.empty:
            return scores
        return scores.loc[scores["span_id"] == self.span_id].reset_index(drop=True)

    def __getitem__(self, column: str) -> Any:
        """A column by name: ``node["kind"]`` is ``node.kind``."""
        if column in _COLUMNS:
            return getattr(self, column)
        if column in self.row:
            return value(self.row[column])
        raise KeyError(column)

    def get(self, column: str, default: Any = None) -> Any:
        """A column by name, or ``default`` when the span has no such column."""
        try:
            found = self[column]
        except KeyError:
            return default
        return default if found is None else found

    def to_dict(self) -> dict[str, Any]:
        """Every column as a plain dict (JSON columns parsed)."""
        return {column: self[column] for column in (*self.row, *_JSON_COLUMNS)}

    # -- the tree ------------------------------------------------------------------------
    @property
    def descendants(self) -> list[SpanNode]:
        """Every span under this one, in tree order (depth first, siblings by start)."""
        return list(self._walk_below())

    @property
    def ancestors(self) -> list[SpanNode]:
        """The parent, its parent, ... up to the root (nearest first)."""
        out: list[SpanNode] = []
        node = self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out

    @property
    def depth(self) -> int:
        """0 for a root, 1 for its children, ..."""
        return len(self.ancestors)

    def _walk_below(self) -> Iterator[SpanNode]:
        stack = list(reversed(self.children))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def _scope(self) -> Iterable[SpanNode]:
        return self._walk_below()

    def find_children(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> list[SpanNode]:
        """The direct children that match."""
        return find_in(self.children, predicate, filters)

    def first_child(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> SpanNode | None:
        """The first direct child that matches, or None."""
        return first_in(self.children, predicate, filters)

    def any_child(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> bool:
        """Whether a direct child matches."""
        return first_in(self.children, predicate, filters) is not None

    def find_descendants(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> list[SpanNode]:
        """The descendants that match (same as `find`)."""
        return find_in(self._walk_below(), predicate, filters)

    def first_descendant(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> SpanNode | None:
        """The first descendant that matches in tree order, or None."""
        return first_in(self._walk_below(), predicate, filters)

    def any_descendant(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> bool:
        """Whether a descendant matches."""
        return first_in(self._walk_below(), predicate, filters) is not None

    def find_ancestors(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> list[SpanNode]:
        """The ancestors that match, nearest first."""
        return find_in(self.ancestors, predicate, filters)

    def first_ancestor(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> SpanNode | None:
        """The nearest ancestor that matches, or None."""
        return first_in(self.ancestors, predicate, filters)

    def any_ancestor(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> bool:
        """Whether an ancestor matches."""
        return first_in(self.ancestors, predicate, filters) is not None

    # -- display -------------------------------------------------------------------------
    def __repr__(self) -> str:
        duration = "" if self.duration_ms is None else f", {self.duration_ms:.1f} ms"
        return f"SpanNode({self.kind} {self.name!r} {self.span_id}{duration}, {self.status})"

    def tree(self, *, max_chars: int = 2000) -> Tree:
        """This span with its input, output and attributes, then the spans under it."""
        from tracetape.inspect.render.text import span_detail_tree

        return span_detail_tree(self, max_chars=max_chars)

    def text(self, *, width: int = 100, max_chars: int = 2000) -> str:
        """`tree` as plain text (no colour)."""
        from tracetape.inspect.render.text import to_plain

        return to_plain(self.tree(max_chars=max_chars), width=width)

    def html(self) -> str:
        """This span as a self-contained HTML fragment: its details open, its subtree below."""
        from tracetape.inspect.render.html import span_html

        return span_html(self)

    def __rich__(self) -> Tree:
        return self.tree()

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None, **kwargs: object
    ) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}
