"""Everything private of LangChain / LangGraph that tracetape touches, in one place.

Each item has a test in ``tests/unit/capture/test_langchain_compat.py`` that fails
when the library changes it.
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any
from uuid import UUID

# LangGraph's control-flow exceptions: an interrupt or a Command(graph=PARENT) reaches
# on_chain_error although it is not an error. Resolved lazily: langgraph is optional.
_control_flow: tuple[type[BaseException], ...] | None = None


def _control_flow_types() -> tuple[type[BaseException], ...]:
    global _control_flow
    if _control_flow is None:
        try:
            from langgraph.errors import GraphBubbleUp
        except ImportError:
            _control_flow = ()
        else:
            _control_flow = (GraphBubbleUp,)
    return _control_flow


def control_flow_kind(error: BaseException) -> str | None:
    """``interrupt``, ``command`` or ``cancelled`` for control flow; None for an error."""
    import asyncio

    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    types = _control_flow_types()
    if not types or not isinstance(error, types):
        return None
    from langgraph.errors import GraphInterrupt

    return "interrupt" if isinstance(error, GraphInterrupt) else "command"


def interrupt_values(error: BaseException) -> list[Any]:
    """The values passed to ``interrupt()`` carried by a GraphInterrupt."""
    values: list[Any] = []
    for arg in error.args:
        items = arg if isinstance(arg, list | tuple) else [arg]
        for item in items:
            values.append(getattr(item, "value", item))
    return values


def configure_hooks() -> list[Any]:
    """langchain-core's private list of configure hooks (to remove ours on uninstrument)."""
    from langchain_core.tracers import context as tracer_context

    hooks: list[Any] = tracer_context._configure_hooks  # pyright: ignore[reportPrivateUsage]
    return hooks


def register_hook(var: contextvars.ContextVar[Any]) -> None:
    """Add ``var`` as an inheritable configure hook (public langchain-core API)."""
    from langchain_core.tracers.context import register_configure_hook

    register_configure_hook(var, True)


def remove_hook(var: contextvars.ContextVar[Any]) -> None:
    """Remove the hook registered for ``var`` (no public API for this)."""
    hooks = configure_hooks()
    hooks[:] = [hook for hook in hooks if hook[0] is not var]


def running_body() -> UUID | None:
    """The LangChain run whose body runs here (a ``RunnableLambda``'s function, a tool's
    code): the parent its child runs get, from the config LangChain hands them."""
    from langchain_core.runnables.config import var_child_runnable_config

    config = var_child_runnable_config.get()
    callbacks: Any = config.get("callbacks") if config else None
    parent = getattr(callbacks, "parent_run_id", None)
    return parent if isinstance(parent, UUID) else None


@functools.cache
def _command_class() -> type | None:
    try:
        from langgraph.types import Command
    except ImportError:  # pragma: no cover - langgraph is installed with the tests
        return None
    return Command


def is_command(value: Any) -> bool:
    """Whether ``value`` is a LangGraph ``Command`` (langgraph is optional)."""
    cls = _command_class()
    return cls is not None and isinstance(value, cls)


def command_fields(value: Any) -> dict[str, Any] | None:
    """A LangGraph ``Command``'s fields (a tool may return one to update the state), or
    None for anything else."""
    if not is_command(value):
        return None
    command: Any = value
    return {
        "graph": command.graph,
        "update": command.update,
        "resume": command.resume,
        "goto": command.goto,
    }
