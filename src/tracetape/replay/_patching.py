"""How replay wraps a framework's method: answered from the tape, or run for real.

Shared by the LangChain, LlamaIndex and OpenAI SDK seams (each keeps its own context
variables: which player is active, and whether a call is already passing through for
real, so the calls a real method makes inside are not answered a second time by the
same seam).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

MARK = "__tracetape_replay_original__"
"""Set on every wrapper, naming the method it wraps: a class is never wrapped twice."""

Decide = Callable[[Any, tuple[Any, ...], dict[str, Any]], "tuple[Any] | None"]
"""``(self, args, kwargs)`` -> a 1-tuple holding the answer, or None to run for real."""


def answering(
    original: Callable[..., Any],
    decide: Decide,
    passing: contextvars.ContextVar[bool],
    active: contextvars.ContextVar[Any],
    shape: Callable[[Any], Any] | None = None,
    ashape: Callable[[Any], Any] | None = None,
) -> Callable[..., Any]:
    """``original`` (sync or async) answered by ``decide`` or run for real.

    ``shape``/``ashape`` turn an answer into what the method returns (e.g. a stream of
    one chunk); the answer itself by default. While the real method runs, ``passing``
    is set (when a replay is active), so the seam lets its inner calls through.
    """
    if inspect.iscoroutinefunction(original):
        finish = ashape or shape or _same

        @functools.wraps(original)
        async def awrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            answer = decide(self, args, kwargs)
            if answer is not None:
                return finish(answer[0])
            token = passing.set(active.get() is not None)
            try:
                return await original(self, *args, **kwargs)
            finally:
                passing.reset(token)

        setattr(awrapper, MARK, original)
        return awrapper

    sync_finish = shape or _same

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = decide(self, args, kwargs)
        if answer is not None:
            return sync_finish(answer[0])
        token = passing.set(active.get() is not None)
        try:
            return original(self, *args, **kwargs)
        finally:
            passing.reset(token)

    setattr(wrapper, MARK, original)
    return wrapper


def _same(answer: Any) -> Any:
    return answer


def subclasses(cls: type) -> list[type]:
    """``cls`` and every class derived from it so far."""
    out: list[type] = [cls]
    stack = [cls]
    seen: set[type] = {cls}
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                out.append(sub)
                stack.append(sub)
    return out


def patch(cls: type, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace ``cls``'s own ``name`` by ``wrap(original)``, once."""
    original = cls.__dict__.get(name)
    if original is None or not callable(original) or hasattr(original, MARK):
        return
    setattr(cls, name, wrap(original))
