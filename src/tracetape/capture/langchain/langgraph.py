"""LangGraph attributes read from run metadata and tags: graph, node, step, thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tracetape.spans import semconv


def is_node(name: str, tags: Sequence[str] | None, metadata: Mapping[str, Any]) -> bool:
    """A LangGraph node task: tagged ``graph:step:N`` by LangGraph, named as its node."""
    if metadata.get("langgraph_node") != name:
        return False
    return any(tag.startswith("graph:step:") for tag in tags or ())


def is_hidden(tags: Sequence[str] | None) -> bool:
    """LangGraph's own plumbing runs (channel writes, routing) that it marks hidden."""
    return bool(tags) and "langsmith:hidden" in (tags or ())


def attributes(metadata: Mapping[str, Any], node: bool) -> dict[str, Any]:
    """Node, step, triggers, path, checkpoint namespace and thread id from metadata."""
    attrs: dict[str, Any] = {}
    if node:
        attrs[semconv.LANGGRAPH_NODE] = str(metadata.get("langgraph_node"))
        step = metadata.get("langgraph_step")
        if isinstance(step, int):
            attrs[semconv.LANGGRAPH_STEP] = step
        triggers = metadata.get("langgraph_triggers")
        if isinstance(triggers, list | tuple):
            attrs[semconv.LANGGRAPH_TRIGGERS] = tuple(str(t) for t in triggers)
        path = metadata.get("langgraph_path")
        if isinstance(path, list | tuple):
            attrs[semconv.LANGGRAPH_PATH] = tuple(str(p) for p in path)
        namespace = metadata.get("langgraph_checkpoint_ns")
        if namespace:
            attrs[semconv.LANGGRAPH_CHECKPOINT_NS] = str(namespace)
    thread = metadata.get("thread_id")
    if thread is not None:
        attrs[semconv.LANGGRAPH_THREAD_ID] = str(thread)
        attrs[semconv.CONVERSATION_ID] = str(thread)
    return attrs
