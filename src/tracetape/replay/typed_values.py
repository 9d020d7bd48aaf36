"""Build again the values a payload keeps as what they were (see `tracetape.spans.typed`):
datetimes, decimals, bytes, tuples, sets, pydantic models and LangGraph ``Command``s."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import sys
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from tracetape.errors import TracetapeError
from tracetape.spans import semconv, typed


def is_typed(value: Any) -> bool:
    """Whether ``value`` is one of these stored values (a dict of that shape)."""
    return (
        isinstance(value, dict)
        and value.get("type") == typed.TYPE  # pyright: ignore[reportUnknownMemberType]
        and isinstance(value.get("kwargs"), dict)  # pyright: ignore[reportUnknownMemberType]
    )


def holds_typed(value: Any) -> bool:
    """Whether one of these stored values is anywhere in ``value``."""
    if isinstance(value, dict):
        return is_typed(value) or any(holds_typed(v) for v in value.values())  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return any(holds_typed(v) for v in value if isinstance(v, dict | list))  # pyright: ignore[reportUnknownVariableType]
    return False


def revive(value: Any, load: Callable[[Any], Any]) -> Any:
    """``value`` with each stored value built again; ``load`` revives what holds none
    (LangChain's loader: messages, documents)."""
    if not holds_typed(value):
        return load(value)
    if is_typed(value):
        ident = tuple(value.get("id") or ())
        kwargs = {str(k): revive(v, load) for k, v in value["kwargs"].items()}
        return _build(ident, kwargs)
    if isinstance(value, dict):
        return {k: revive(v, load) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return [revive(v, load) for v in value]  # a list: only containers hold stored values


def _build(ident: tuple[str, ...], kwargs: Mapping[str, Any]) -> Any:
    from tracetape.replay.recording import NotReplayableError

    items = kwargs.get("items") or []
    builders: dict[tuple[str, ...], Callable[[], Any]] = {
        typed.DATETIME: lambda: dt.datetime.fromisoformat(kwargs["iso"]),
        typed.DATE: lambda: dt.date.fromisoformat(kwargs["iso"]),
        typed.DECIMAL: lambda: decimal.Decimal(kwargs["text"]),
        typed.BYTES: lambda: base64.b64decode(kwargs["base64"]),
        typed.TUPLE: lambda: tuple(items),
        typed.SET: lambda: set(items),
        typed.FROZENSET: lambda: frozenset(items),
        typed.PYDANTIC: lambda: _model(str(kwargs["class"]), kwargs["fields"]),
        semconv.COMMAND_PAYLOAD_ID: lambda: _command(kwargs),
    }
    build = builders.get(ident)
    if build is None:
        raise NotReplayableError(
            f"a recorded payload holds a {'.'.join(ident)} this version cannot build again"
        )
    try:
        return build()
    except TracetapeError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise NotReplayableError(
            f"a recorded {'.'.join(ident)} could not be built again: {exc}"
        ) from exc


def _model(path: str, fields: Any) -> BaseModel:
    """A pydantic model of a class this process has imported already (a tape never makes
    it import a module)."""
    from tracetape.replay.recording import NotReplayableError

    module, _, qualname = path.partition(":")
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise NotReplayableError(
            f"a recorded payload holds a {path} (a pydantic model) whose class is not "
            "imported in this process: import it (the app's module) before replaying"
        )
    return found.model_validate(fields)


def _command(kwargs: Mapping[str, Any]) -> Any:
    """A LangGraph ``Command`` (a resumed run's input, a tool's state update)."""
    from langgraph.types import Command

    goto = kwargs.get("goto")
    return Command(
        graph=kwargs.get("graph"),
        update=kwargs.get("update"),
        resume=kwargs.get("resume"),
        goto=tuple(goto) if isinstance(goto, list) else goto,  # pyright: ignore[reportUnknownArgumentType]
    )
