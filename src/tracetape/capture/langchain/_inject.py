"""Process-wide hooks into LangChain: the configure hook and object visibility.

- `instrument_langchain` registers tracetape's handler with langchain-core's configure
  hook, so every run in the process records with no callback passed; removing it is
  `uninstrument_langchain`.
- `ensure_patched` wraps ``BaseTool.run/arun`` and ``BaseRetriever.invoke/ainvoke`` so
  the running tool / retriever object is visible to the handler (LangChain's callbacks
  do not carry a tool's argument schema or a retriever's search settings). The wrappers
  only set a context variable and call through; they are installed once per process.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any

from tracetape.capture.langchain import _compat
from tracetape.capture.langchain.retrievers import current_retriever

current_tool: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tracetape_tool", default=None
)

_lock = threading.Lock()
_patched = False
_hook_var: contextvars.ContextVar[Any] | None = None


def _wrap_sync(original: Callable[..., Any], var: contextvars.ContextVar[Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = var.set(self)
        try:
            return original(self, *args, **kwargs)
        finally:
            var.reset(token)

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_async(original: Callable[..., Any], var: contextvars.ContextVar[Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = var.set(self)
        try:
            return await original(self, *args, **kwargs)
        finally:
            var.reset(token)

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def ensure_patched() -> None:
    """Install the visibility wrappers once per process (idempotent)."""
    global _patched
    if _patched:
        return
    with _lock:
        if _patched:
            return
        from langchain_core.retrievers import BaseRetriever
        from langchain_core.tools import BaseTool

        BaseTool.run = _wrap_sync(BaseTool.run, current_tool)  # type: ignore[method-assign]
        BaseTool.arun = _wrap_async(BaseTool.arun, current_tool)  # type: ignore[method-assign]
        BaseRetriever.invoke = _wrap_sync(BaseRetriever.invoke, current_retriever)  # type: ignore[method-assign]
        BaseRetriever.ainvoke = _wrap_async(BaseRetriever.ainvoke, current_retriever)  # type: ignore[method-assign]
        from tracetape.capture.langchain import embeddings

        embeddings.ensure_patched()
        _patched = True


def instrument_langchain(handler: Any) -> None:
    """Record every LangChain run in the process with ``handler`` (replacing any other)."""
    global _hook_var
    ensure_patched()
    with _lock:
        if _hook_var is not None:
            _compat.remove_hook(_hook_var)
        _hook_var = contextvars.ContextVar("tracetape_instrumented", default=handler)
        _compat.register_hook(_hook_var)


def uninstrument_langchain() -> None:
    """Stop recording runs that were not given a tracetape callback explicitly."""
    global _hook_var
    with _lock:
        if _hook_var is not None:
            _compat.remove_hook(_hook_var)
            _hook_var = None


def instrumented_handler() -> Any:
    """The handler `instrument_langchain` installed, if any."""
    return _hook_var.get() if _hook_var is not None else None
