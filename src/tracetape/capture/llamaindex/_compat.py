"""Every private detail of LlamaIndex that the capture relies on, in one place.

tests/unit/capture/test_llamaindex_compat.py fails when one of them changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

# ``Dispatcher.span`` names a span ``f"{Class}.{method}-{uuid4}"`` (or the function's
# qualname for plain functions); the name is the only place the method appears.
_SPAN_ID = re.compile(
    r"^(?P<name>.+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)

STEP_INPUT_TAG: Final = "llamaindex.step.input_event"
"""Instrument tag the workflows runtime puts on the span of each step it runs."""
RUN_ID_TAG: Final = "llamaindex.run_id"
"""Instrument tag naming the workflow run a span belongs to."""

# Private attributes of VectorIndexRetriever (no public accessor exists for them).
_RETRIEVER_PRIVATE: Final = {
    "vector_store": "_vector_store",
    "embed_model": "_embed_model",
    "mode": "_vector_store_query_mode",
    "alpha": "_alpha",
    "filters": "_filters",
    "sparse_top_k": "_sparse_top_k",
    "hybrid_top_k": "_hybrid_top_k",
    "node_ids": "_node_ids",
    "doc_ids": "_doc_ids",
    "vector_store_kwargs": "_kwargs",
}


def span_name(span_id: str) -> str:
    """``Class.method`` (or a function's qualname) from a dispatcher span id."""
    match = _SPAN_ID.match(span_id)
    return match.group("name") if match else span_id


def method_name(span_id: str) -> str:
    """The method part of a dispatcher span id (``retrieve`` of ``X.retrieve-<uuid>``)."""
    return span_name(span_id).rsplit(".", 1)[-1]


def is_step(tags: Mapping[str, Any] | None) -> bool:
    """Whether a span is a workflow step, by the runtime's instrument tag."""
    return bool(tags) and STEP_INPUT_TAG in (tags or {})


def retriever_settings(retriever: Any) -> dict[str, Any]:
    """Private settings of a vector-index retriever (empty for other retrievers)."""
    out: dict[str, Any] = {}
    for key, attr in _RETRIEVER_PRIVATE.items():
        if hasattr(retriever, attr):
            out[key] = getattr(retriever, attr)
    return out


def active_span_id() -> Any:
    """LlamaIndex's context variable naming the active dispatcher span (the parent of
    the next span that starts)."""
    from llama_index_instrumentation.span import active_span_id as variable

    return variable


def root_dispatcher() -> Any:
    """LlamaIndex's root instrumentation dispatcher."""
    from llama_index_instrumentation import get_dispatcher

    return get_dispatcher()


def control_flow_types() -> tuple[type[BaseException], ...]:
    """Exceptions that stop a workflow span by design (a user cancel, a wait), not errors."""
    import asyncio

    from workflows.errors import WorkflowCancelledByUser
    from workflows.runtime.types.results import WaitingForEvent

    return (asyncio.CancelledError, WorkflowCancelledByUser, WaitingForEvent)
