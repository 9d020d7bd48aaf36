"""Replay of LlamaIndex apps: query engines, chat engines, agents and workflows.

`Tape.replay` / `Tape.areplay` hand an app here when `handles` says it is LlamaIndex's;
model and retriever calls are then answered from the recording (see `player`).
``llama_index`` is imported only when such an app is replayed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracetape.replay.player import OnDivergence
    from tracetape.replay.result import Replay
    from tracetape.replay.session import Source

_APP_TYPES = (
    ("llama_index.core.base.base_query_engine", "BaseQueryEngine"),
    ("llama_index.core.chat_engine.types", "BaseChatEngine"),
    ("workflows.workflow", "Workflow"),
)


def handles(app: Any) -> bool:
    """Whether ``app`` is a LlamaIndex query engine, chat engine, agent or workflow.

    Decided from the classes already imported: an app object of theirs implies its
    module is loaded, so nothing is imported here.
    """
    for module_name, name in _APP_TYPES:
        cls = getattr(sys.modules.get(module_name), name, None)
        if isinstance(cls, type) and isinstance(app, cls):
            return True
    return False


def replay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
) -> Replay:
    """See `tracetape.replay.llamaindex.session.replay`."""
    from tracetape.replay.llamaindex import session

    return session.replay(source, trace_id, app, live, on_divergence)


async def areplay(
    source: Source,
    trace_id: str,
    app: Any,
    live: Sequence[str] = (),
    on_divergence: OnDivergence = "stop",
) -> Replay:
    """See `tracetape.replay.llamaindex.session.areplay`."""
    from tracetape.replay.llamaindex import session

    return await session.areplay(source, trace_id, app, live, on_divergence)


__all__ = ["areplay", "handles", "replay"]
