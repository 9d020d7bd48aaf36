"""Everything private of LlamaIndex that replay touches, in one place.

Replay answers calls *inside* LlamaIndex's own instrumentation, so the re-run records
its model, retriever and tool spans (and their events) like any other run while no
provider, vector store or tool body is asked. That needs these private seams; each has a test in
``tests/unit/replay/test_llamaindex_compat.py`` that fails when LlamaIndex changes it:

- ``llm_chat_callback`` / ``llm_completion_callback`` wrap each model method in a
  function (``wrapped_llm_chat``, ``wrapped_async_llm_chat``, ``wrapped_llm_predict``,
  ``wrapped_async_llm_predict``) that sends the start event, calls the provider
  function it closes over as ``f``, then sends the end event. Replay swaps that closed
  over ``f`` (one cell per defining class and method) for a wrapper that asks the
  active player first.
- ``BaseRetriever._retrieve`` / ``_aretrieve``: the retriever's own body, called by the
  instrumented ``retrieve`` / ``aretrieve``; each class's own definition is wrapped.
- A tool's ``call`` / ``acall`` is itself the instrumented method: ``dispatcher.span``
  made it a ``wrapt`` proxy, whose ``__wrapped__`` (the tool's own body) is swapped,
  so the tool span still opens and closes around the answer.

The wrappers are installed on first use and call straight through when no replay is
active in the current context (one context-variable lookup).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from tracetape.replay._patching import MARK, answering, subclasses

_lock = threading.RLock()

CALLBACK_WRAPPERS = {
    "wrapped_llm_chat": True,
    "wrapped_async_llm_chat": True,
    "wrapped_llm_predict": False,
    "wrapped_async_llm_predict": False,
}
"""Code names of LlamaIndex's model-callback wrappers -> whether they wrap a chat call."""
MODEL_METHODS = (
    *("chat", "achat", "stream_chat", "astream_chat"),
    *("complete", "acomplete", "stream_complete", "astream_complete"),
)
RETRIEVER_METHODS = ("_retrieve", "_aretrieve")
TOOL_METHODS = ("call", "acall")


@dataclass(frozen=True)
class ModelCall:
    """One model call as its provider function receives it."""

    chat: bool
    """A chat call (messages) rather than a completion (a prompt)."""
    stream: bool
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict[str, Any])


class Hooks(Protocol):
    """What the wrappers ask the active player. ``None`` means: run for real."""

    def answer_model(self, llm: Any, call: ModelCall) -> Any | None: ...
    def answer_retriever(self, retriever: Any, query_bundle: Any) -> tuple[Any] | None: ...
    def answer_tool(
        self, tool: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any] | None: ...


active: contextvars.ContextVar[Hooks | None] = contextvars.ContextVar(
    "tracetape_llamaindex_replay_player", default=None
)
# Set while a wrapped call runs for real, so the calls it makes itself (CustomLLM.chat
# calling self.complete, a retriever's _aretrieve calling _retrieve) pass through
# instead of consuming another recorded call.
_passing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tracetape_llamaindex_replay_passing", default=False
)


def _hooks() -> Hooks | None:
    return None if _passing.get() else active.get()


def provider_cell(method: Any) -> tuple[Any, bool] | None:
    """The closure cell holding the provider function ``f`` of a model method wrapped
    by LlamaIndex's model callbacks, and whether it is a chat call; None otherwise."""
    candidate: Any = method
    for _ in range(8):  # through dispatcher.span's wrapt proxy and functools wrappers
        code = getattr(candidate, "__code__", None)
        closure = getattr(candidate, "__closure__", None)
        name = getattr(code, "co_name", None)
        if name in CALLBACK_WRAPPERS and closure and "f" in code.co_freevars:  # pyright: ignore[reportOptionalMemberAccess]
            return closure[code.co_freevars.index("f")], CALLBACK_WRAPPERS[name]  # pyright: ignore[reportOptionalMemberAccess]
        candidate = getattr(candidate, "__wrapped__", None)
        if not callable(candidate):
            return None
    return None


async def _one_async(answer: Any) -> AsyncGenerator[Any]:
    yield answer


def _one(answer: Any) -> Generator[Any]:
    yield answer


def _wrap_model(original: Callable[..., Any], chat: bool) -> Callable[..., Any]:
    """The provider function answered by the player (a stream of one chunk when it
    streams) or called for real."""
    stream = "stream" in getattr(original, "__name__", "")

    def decide(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any] | None:
        hooks = _hooks()
        answer = hooks.answer_model(self, ModelCall(chat, stream, args, kwargs)) if hooks else None
        return None if answer is None else (answer,)

    if stream:
        return answering(original, decide, _passing, active, _one, _one_async)
    return answering(original, decide, _passing, active)


Ask = Callable[[Hooks, Any, tuple[Any, ...], dict[str, Any]], "tuple[Any] | None"]


def _ask_retriever(
    hooks: Hooks, retriever: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any] | None:
    query_bundle = args[0] if args else kwargs.get("query_bundle")
    return hooks.answer_retriever(retriever, query_bundle)


def _ask_tool(
    hooks: Hooks, tool: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any] | None:
    return hooks.answer_tool(tool, args, kwargs)


def _wrap_body(original: Callable[..., Any], ask: Ask) -> Callable[..., Any]:
    """A retriever's or tool's body answered by the player (a 1-tuple) or run for real."""

    def decide(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any] | None:
        hooks = _hooks()
        return ask(hooks, self, args, kwargs) if hooks else None

    return answering(original, decide, _passing, active)


def _patch_model(cls: type, name: str) -> None:
    found = provider_cell(cls.__dict__.get(name))
    if found is None:
        return
    cell, chat = found
    provider = cell.cell_contents
    if callable(provider) and not hasattr(provider, MARK):
        cell.cell_contents = _wrap_model(provider, chat)


def _patch_body(cls: type, name: str, ask: Ask) -> None:
    original = cls.__dict__.get(name)
    if original is None or not callable(original) or hasattr(original, MARK):
        return
    if getattr(original, "__isabstractmethod__", False):
        return
    proxy: Any = original
    inner = getattr(proxy, "__wrapped__", None)
    if hasattr(proxy, "_self_wrapper") and callable(inner):  # dispatcher.span's proxy
        if not hasattr(inner, MARK):
            proxy.__wrapped__ = _wrap_body(inner, ask)
        return
    setattr(cls, name, _wrap_body(original, ask))


def install() -> None:
    """Wrap the seams on every model and retriever class defined so far (idempotent).

    Run at the start of each replay: classes defined since the last one are wrapped then
    (the app's objects exist before it is replayed).
    """
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.tools.types import BaseTool

    with _lock:
        for cls in subclasses(BaseLLM):
            for name in MODEL_METHODS:
                _patch_model(cls, name)
        for cls in subclasses(BaseRetriever):
            for name in RETRIEVER_METHODS:
                _patch_body(cls, name, _ask_retriever)
        for cls in subclasses(BaseTool):
            for name in TOOL_METHODS:
                _patch_body(cls, name, _ask_tool)
