"""`RootMark`: links the trace a replay or re-run records to what it replays.

A small LangChain handler listed after the tape's own one: when the re-run's root run
starts, the tape's handler has just made that run's span the innermost capture span of
this context, and the mark sets its attributes on it (only that run's: other runs
recording at the same time are not touched) and notes its trace id. It then asks
LangChain to skip it for every later callback, so it costs one attribute lookup per
callback run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from tracetape.spans import semconv
from tracetape.spans.recorder import current_capture_span


class RootMark(BaseCallbackHandler):
    """Sets ``attributes`` on the root run's span (a chain, graph or chat model)."""

    run_inline = True

    def __init__(self, attributes: Mapping[str, str]) -> None:
        self.attributes = dict(attributes)
        self.trace_id: str | None = None

    # LangChain copies handlers; all copies are this one.
    def __copy__(self) -> RootMark:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> RootMark:
        return self

    # Only a root run's start is of interest: LangChain skips a handler for each kind of
    # event it ignores (tool events are "agent" ones), after the root for all of them.
    @property
    def ignore_chain(self) -> bool:
        return self.trace_id is not None

    @property
    def ignore_chat_model(self) -> bool:
        return self.trace_id is not None

    @property
    def ignore_llm(self) -> bool:
        return True

    @property
    def ignore_agent(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    def _mark(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        if parent_run_id is not None or self.trace_id is not None:
            return
        span = current_capture_span.get()
        attrs: Mapping[str, Any] = getattr(span, "attributes", None) or {}
        if span is None or attrs.get(semconv.LANGCHAIN_RUN_ID) != str(run_id):
            return
        span.set_attributes(self.attributes)
        self.trace_id = format(span.get_span_context().trace_id, "032x")

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._mark(run_id, parent_run_id)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._mark(run_id, parent_run_id)
