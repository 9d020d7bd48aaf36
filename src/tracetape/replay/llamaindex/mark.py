"""`ReplayMark`: marks a LlamaIndex re-run's root span as a replay of its original.

A span handler on LlamaIndex's root dispatcher, listed after the tape's own: when the
re-run's root span starts, the tape's handler has just made it the innermost capture
span of this context. Only the root started under this replay's player is marked (other
LlamaIndex runs recording at the same time are not touched).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from llama_index.core.instrumentation.span import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import PrivateAttr

from tracetape.capture.llamaindex._compat import root_dispatcher
from tracetape.replay.llamaindex import _compat
from tracetape.spans import semconv
from tracetape.spans.recorder import current_capture_span


class ReplayMark(BaseSpanHandler[SimpleSpan]):
    """Sets ``tracetape.replay_of`` on the root span of the run ``player`` answers."""

    _player: Any = PrivateAttr()
    _replay_of: str = PrivateAttr()
    _trace_id: str | None = PrivateAttr(default=None)

    def __init__(self, player: Any, replay_of: str) -> None:
        super().__init__()
        self._player = player
        self._replay_of = replay_of

    @classmethod
    def class_name(cls) -> str:
        return "TracetapeReplayMark"

    @property
    def trace_id(self) -> str | None:
        """The re-run's trace id, once its root span started."""
        return self._trace_id

    def attach(self) -> None:
        """Add this handler after every handler already on the root dispatcher."""
        root_dispatcher().add_span_handler(self)

    def detach(self) -> None:
        root = root_dispatcher()
        root.span_handlers = [h for h in root.span_handlers if h is not self]

    def span_enter(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if parent_id is not None or self._trace_id is not None:
            return
        if _compat.active.get() is not self._player:
            return
        span = current_capture_span.get()
        attrs: Mapping[str, Any] = getattr(span, "attributes", None) or {}
        if span is None or attrs.get(semconv.LLAMAINDEX_SPAN_ID) != id_:
            return
        span.set_attribute(semconv.REPLAY_OF, self._replay_of)
        self._trace_id = format(span.get_span_context().trace_id, "032x")

    def span_exit(self, *args: Any, **kwargs: Any) -> None:
        return None

    def span_drop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def new_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None
