"""`Trace`: one recorded trace as a span tree, DataFrames and a text rendering."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from rich.tree import Tree


class Trace:
    """A recorded trace: ``.spans`` (DataFrame), ``.llm_calls``, ``.tool_calls``, ``.tree()``.

    In a terminal (``rich.print(trace)``) and a notebook it shows as its span tree.

    Example:
        >>> trace = tape.trace(trace_id)
        >>> print(trace.text())
    """

    def __init__(self, trace_id: str, spans: pd.DataFrame) -> None:
        self.trace_id = trace_id
        self.spans = spans.reset_index(drop=True)

    def __repr__(self) -> str:
        return f"Trace({self.trace_id}, {len(self.spans)} spans)"

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
    def root(self) -> dict[str, Any]:
        """The earliest span whose parent is not in this trace."""
        ids = list(self.spans["span_id"])
        roots = self.spans.loc[~self.spans["parent_span_id"].isin(ids)]
        return roots.iloc[0].to_dict()

    def walk(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(depth, span) pairs in tree order, children by start time."""
        rows = self.spans.to_dict("records")
        ids = {row["span_id"] for row in rows}
        children: dict[str | None, list[dict[str, Any]]] = {}
        for row in rows:
            parent = row["parent_span_id"] if row["parent_span_id"] in ids else None
            children.setdefault(parent, []).append(row)
        stack: list[tuple[int, dict[str, Any]]] = [(0, r) for r in reversed(children.get(None, []))]
        while stack:
            depth, row = stack.pop()
            yield depth, row
            for child in reversed(children.get(row["span_id"], [])):
                stack.append((depth + 1, child))

    def tree(self, *, full: bool = False, max_chars: int = 800) -> Tree:
        """The span tree as a rich renderable; ``full`` adds inputs and outputs.

        Example:
            >>> rich.print(tape.trace(trace_id).tree(full=True))
        """
        from tracetape.inspect.render.text import spans_tree, trace_title

        return spans_tree(
            trace_title(self.trace_id, self.spans), self.walk(), full=full, max_chars=max_chars
        )

    def text(self, *, full: bool = False, width: int = 100) -> str:
        """The span tree as plain text (no colour), e.g. for logs and doctests."""
        from tracetape.inspect.render.text import to_plain

        return to_plain(self.tree(full=full), width=width)

    def __rich__(self) -> Tree:
        return self.tree()

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None, **kwargs: object
    ) -> dict[str, str]:
        return {"text/plain": self.text()}
