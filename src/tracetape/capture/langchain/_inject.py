"""Process-wide hooks into LangChain: the configure hook and object visibility.

- `instrument_langchain` registers tracetape's handler with langchain-core's configure
  hook, so every run in the process records with no callback passed; removing it is
  `uninstrument_langchain`.
- `ensure_patched` wraps ``BaseTool.run/arun``, ``BaseRetriever.invoke/ainvoke`` and
  ``BasePromptTemplate.invoke/ainvoke`` so the running tool / retriever / prompt object
  is visible to the handler (LangChain's callbacks carry neither a tool's argument
  schema, a retriever's search settings nor a prompt's template objects). It also wraps
  the score-returning search methods of every ``VectorStore`` class, so the scores a
  search computed reach the retriever span, and the embedding methods (`embeddings`).
  The wrappers set a context variable or read one and call through; they are installed
  once per process and cost a context-variable lookup when nothing records.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tracetape._safety import attempt
from tracetape.capture.langchain import _compat, prompts, retrievers
from tracetape.capture.langchain.retrievers import current_retriever

current_tool: contextvars.ContextVar[Any] = contextvars.ContextVar("tracetape_tool", default=None)

_lock = threading.RLock()
_patched = False
_hook_var: contextvars.ContextVar[Any] | None = None

# Public VectorStore methods that return (document, score) pairs. Wrapping these (not
# the private `_similarity_search_with_relevance_scores`) keeps us on public API.
_SCORE_METHODS = (
    "similarity_search_with_score",
    "asimilarity_search_with_score",
    "similarity_search_with_relevance_scores",
    "asimilarity_search_with_relevance_scores",
)

Wrapper = Callable[[Callable[..., Any], str], Callable[..., Any]]


def _wrap_sync(
    original: Callable[..., Any], var: contextvars.ContextVar[Any]
) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = var.set(self)
        try:
            return original(self, *args, **kwargs)
        finally:
            var.reset(token)

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_async(
    original: Callable[..., Any], var: contextvars.ContextVar[Any]
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = var.set(self)
        try:
            return await original(self, *args, **kwargs)
        finally:
            var.reset(token)

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_retriever_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = current_retriever.set(self)
        scope = retrievers.current_retrieval.set(retrievers.Retrieval(self))
        try:
            return original(self, *args, **kwargs)
        finally:
            retrievers.current_retrieval.reset(scope)
            current_retriever.reset(token)

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_retriever_async(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = current_retriever.set(self)
        scope = retrievers.current_retrieval.set(retrievers.Retrieval(self))
        try:
            return await original(self, *args, **kwargs)
        finally:
            retrievers.current_retrieval.reset(scope)
            current_retriever.reset(token)

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _wrap_scores(original: Callable[..., Any], method: str) -> Callable[..., Any]:
    """Note the (document, score) pairs a search returns while a retriever records."""
    relevance = method.endswith("relevance_scores")

    def note(result: Any) -> None:
        scope = retrievers.current_retrieval.get()
        if scope is not None and scope.span is not None:
            attempt("retriever.scores", lambda: scope.note_scores(result, relevance), None)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def awrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = await original(self, *args, **kwargs)
            note(result)
            return result

        awrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
        return awrapper

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        note(result)
        return result

    wrapper.__tracetape_original__ = original  # type: ignore[attr-defined]
    return wrapper


def _patch_class(cls: type, methods: Sequence[str], wrap: Wrapper) -> None:
    """Wrap the ``methods`` that ``cls`` itself defines (idempotent)."""
    for method in methods:
        original = cls.__dict__.get(method)
        if original is None or not callable(original):
            continue
        if hasattr(original, "__tracetape_original__"):
            continue
        setattr(cls, method, wrap(original, method))


def _all_subclasses(cls: type) -> list[type]:
    out: list[type] = []
    stack = [cls]
    seen: set[type] = set()
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                out.append(sub)
                stack.append(sub)
    return out


def patch_hierarchy(base: type, methods: Sequence[str], wrap: Wrapper) -> None:
    """Wrap ``methods`` on ``base``, every subclass known now and every one defined later.

    Each class's own definition is wrapped, so an override that calls ``super()`` goes
    through two wrappers; the wrappers themselves make that harmless (see `embeddings`).
    """
    with _lock:
        for cls in [base, *_all_subclasses(base)]:
            _patch_class(cls, methods, wrap)
        marker = "__tracetape_hooked_" + "_".join(methods)
        if getattr(base, marker, False):
            return
        previous = base.__dict__.get("__init_subclass__")

        def init_subclass(cls: type, **kwargs: Any) -> None:
            if previous is not None:
                previous.__func__(cls, **kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)
            _patch_class(cls, methods, wrap)

        base.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]
        setattr(base, marker, True)


def ensure_patched() -> None:
    """Install the visibility wrappers once per process (idempotent)."""
    global _patched
    if _patched:
        return
    with _lock:
        if _patched:
            return
        from langchain_core.prompts import BasePromptTemplate
        from langchain_core.retrievers import BaseRetriever
        from langchain_core.tools import BaseTool
        from langchain_core.vectorstores import VectorStore

        BaseTool.run = _wrap_sync(BaseTool.run, current_tool)  # type: ignore[method-assign]
        BaseTool.arun = _wrap_async(BaseTool.arun, current_tool)  # type: ignore[method-assign]
        BaseRetriever.invoke = _wrap_retriever_sync(BaseRetriever.invoke)  # type: ignore[method-assign]
        BaseRetriever.ainvoke = _wrap_retriever_async(BaseRetriever.ainvoke)  # type: ignore[method-assign]
        BasePromptTemplate.invoke = _wrap_sync(  # type: ignore[method-assign]
            BasePromptTemplate.invoke, prompts.current_prompt
        )
        BasePromptTemplate.ainvoke = _wrap_async(  # type: ignore[method-assign]
            BasePromptTemplate.ainvoke, prompts.current_prompt
        )
        patch_hierarchy(VectorStore, _SCORE_METHODS, _wrap_scores)
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
    var = _hook_var
    return var.get() if var is not None else None
