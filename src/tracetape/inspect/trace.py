"""`Trace`: one recorded trace as a span tree, DataFrames and a text rendering."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd


class Trace:
    """A recorded trace: ``.spans`` (DataFrame), ``.llm_calls``, ``.tool_calls``, ``.tree()``."""

    def __init__(self, trace_id: str, spans: pd.DataFrame) -> None:
        self.trace_id = trace_id
        self.spans = spans.reset_index(drop=True)

    def __repr__(self) -> str:
        return f"Trace({self.trace_id}, {len(self.spans)} spans)"

    @property
    def llm_calls(self) -> pd.DataFrame:
        """The model-call spans."""
        return self.spans[self.spans["kind"] == "llm"].reset_index(drop=True)

    @property
    def tool_calls(self) -> pd.DataFrame:
        """The tool-execution spans."""
        return self.spans[self.spans["kind"] == "tool"].reset_index(drop=True)

    @property
    def retrievals(self) -> pd.DataFrame:
        """The retriever spans."""
        return self.spans[self.spans["kind"] == "retriever"].reset_index(drop=True)

    @property
    def root(self) -> dict[str, Any]:
        """The earliest span whose parent is not in this trace."""
        ids = set(self.spans["span_id"])
        roots = self.spans[~self.spans["parent_span_id"].isin(ids)]
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
