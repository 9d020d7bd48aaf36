"""The single error boundary between tracetape and the user's program.

Every entry point that user code calls into while recording (callback hooks, span
processors, ``__exit__`` of ``span()``) runs through `guard` or `boundary`. An error
inside tracetape is logged once per distinct place and type, with its traceback, on
``logging.getLogger("tracetape")``, and the user's program carries on unaffected. In
strict mode (``TRACETAPE_STRICT=1`` or `set_strict`, which the test suite turns on) it is
re-raised instead, so tests see our bugs.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

logger = logging.getLogger("tracetape")

P = ParamSpec("P")
R = TypeVar("R")

_strict = os.environ.get("TRACETAPE_STRICT", "").strip().lower() in {"1", "true", "yes", "on"}
_seen: set[tuple[str, str]] = set()
_seen_lock = threading.Lock()
_MAX_SEEN = 1024
_errors = 0


def set_strict(value: bool) -> None:
    """Re-raise internal errors (``True``) or log and swallow them (``False``)."""
    global _strict
    _strict = value


def is_strict() -> bool:
    """Whether internal errors are re-raised."""
    return _strict


def error_count() -> int:
    """How many internal errors were swallowed in this process."""
    return _errors


def report(where: str, exc: BaseException) -> None:
    """Log an internal error once per (place, type); count every occurrence."""
    global _errors
    _errors += 1
    key = (where, type(exc).__name__)
    with _seen_lock:
        first = key not in _seen
        if first and len(_seen) < _MAX_SEEN:
            _seen.add(key)
    if first:
        logger.warning(
            "tracetape: internal error in %s (%s: %s); your program is unaffected, "
            "this span may lack some attributes. Further errors like it are not logged.",
            where,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )


def guard(where: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Decorate an entry point so that no exception from it reaches user code.

    Example:
        >>> @guard("handler.on_llm_start")
        ... def hook() -> None: ...
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if _strict:
                    raise
                report(where, exc)
                return None

        return wrapper

    return decorate


@contextmanager
def boundary(where: str) -> Generator[None, None, None]:
    """Context-manager form of `guard`, for blocks inside a larger function."""
    try:
        yield
    except Exception as exc:
        if _strict:
            raise
        report(where, exc)


def attempt(where: str, fn: Callable[[], R], default: R) -> R:
    """Call ``fn``; on an internal error report it and return ``default``.

    Used by attribute extractors so that one failing extractor loses only its own
    attributes, never the span.
    """
    try:
        return fn()
    except Exception as exc:
        if _strict:
            raise
        report(where, exc)
        return default
