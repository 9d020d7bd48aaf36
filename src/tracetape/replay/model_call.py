"""One recorded chat model call, rebuilt: its messages, its arguments and its model.

What LangChain sends a provider is the model's own configuration (what it was built
with) plus the call's keyword arguments (bound tools, tool choice, response format,
stop, ...). A model span records the constructor as LangChain serialises it
(``tracetape.model.config``, secrets only as names of environment variables), the
invocation params (the model's params merged with the call's arguments) and the bound
tools apart. The call's own arguments are the params the rebuilt model does not report
by itself.

A tape is data, not trusted code: the model is rebuilt only as the one chat model class
its constructor names, with only the environment secrets that class declares, never
from a constructor or params with a redacted value (those need ``model=``), and only to
send to a host the user trusts (`endpoints`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tracetape.errors import NotFoundError
from tracetape.replay import _compat, endpoints, requests
from tracetape.replay.recording import (
    NotReplayableError,
    Query,
    attributes_of,
    hashes_of,
    json_value,
    load_payload,
)
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import to_jsonable
from tracetape.spans.redact import REDACTED

# Sent on to a model given in place of the recorded one when the recorded model cannot
# be rebuilt to tell its own params from the call's: the arguments every provider names
# alike.
_PORTABLE = ("tool_choice", "parallel_tool_calls", "response_format", "stop")
_KEPT_WHOLE = (semconv.INVOCATION_PARAMS, semconv.TOOL_DEFINITIONS, semconv.MODEL_CONFIG)
_PLACEHOLDER = "tracetape-placeholder-never-sent"


@dataclass(frozen=True)
class ModelCall:
    """A recorded chat model call, revived."""

    span_id: str
    trace_id: str
    model_class: str | None
    messages: list[Any]
    response: Any
    """The recorded answer (a message), None when the call failed."""
    params: dict[str, Any]
    """The invocation params as recorded (bound tools apart)."""
    tools: list[Any] | None
    config: dict[str, Any] | None
    """The model's serialised constructor, when its class serialises."""
    streamed: bool


def _check(span_id: str, row: Mapping[str, Any], attrs: Mapping[str, Any]) -> None:
    where = f"span {span_id} ({row['kind']} {row['name']!r})"
    if row["kind"] != kinds.LLM or attrs.get(semconv.OPERATION_NAME) == "text_completion":
        raise NotReplayableError(f"{where} is not a chat model call: rerun sends those only")
    fmt = attrs.get(semconv.REPLAY_FORMAT)
    if fmt:
        raise NotReplayableError(f"{where} was recorded as {fmt}, not from LangChain")
    if attrs.get(semconv.REPLAYABLE) is False or not attrs.get(semconv.REPLAY_INPUT):
        raise NotReplayableError(
            f"{where} did not keep its messages whole (content capture off or over the size cap)"
        )
    cut = [k for k in _KEPT_WHOLE if k in (attrs.get(semconv.TRUNCATED) or ())]
    if cut:
        raise NotReplayableError(
            f"{where} kept {', '.join(cut)} cut to the display limit "
            "(TRACETAPE_MAX_DISPLAY_CHARS): its request cannot be rebuilt exactly"
        )


def read_call(query: Query, span_id: str) -> ModelCall:
    """The model call recorded as ``span_id`` (raises `NotFoundError`, `NotReplayableError`)."""
    rows = query(
        "SELECT trace_id, kind, name, attributes FROM spans WHERE span_id = ? LIMIT 1", [span_id]
    ).to_pylist()
    if not rows:
        raise NotFoundError(f"no span {span_id!r} on the tape")
    row = rows[0]
    attrs = attributes_of(row["attributes"])
    _check(span_id, row, attrs)
    inputs = hashes_of(attrs.get(semconv.REPLAY_INPUT))
    outputs = hashes_of(attrs.get(semconv.REPLAY_OUTPUT))
    texts = {
        str(r["hash"]): str(r["content"])
        for r in query(
            "SELECT hash, content FROM blobs WHERE list_contains(?, hash)",
            [sorted({*inputs, *outputs})],
        ).to_pylist()
    }
    missing = [h for h in (*inputs, *outputs) if h not in texts]
    if missing:
        raise NotReplayableError(f"payload {missing[0][:12]}… is missing from the tape")
    params = json_value(attrs.get(semconv.INVOCATION_PARAMS)) or {}
    tools = json_value(attrs.get(semconv.TOOL_DEFINITIONS))
    config = json_value(attrs.get(semconv.MODEL_CONFIG))
    return ModelCall(
        span_id=span_id,
        trace_id=str(row["trace_id"]),
        model_class=attrs.get(semconv.MODEL_CLASS),
        messages=[load_payload(json_value(texts[h])) for h in inputs],
        response=load_payload(json_value(texts[outputs[0]])) if outputs else None,
        params=dict(params) if isinstance(params, Mapping) else {},  # pyright: ignore[reportUnknownArgumentType]
        tools=list(tools) if isinstance(tools, list) else None,  # pyright: ignore[reportUnknownArgumentType]
        config=dict(config) if isinstance(config, Mapping) else None,  # pyright: ignore[reportUnknownArgumentType]
        streamed=attrs.get(semconv.STREAMED) is True,
    )


def _secret_nodes(value: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Where a serialised constructor takes a secret from the environment, and its name."""
    if isinstance(value, Mapping):
        if value.get("lc") == 1 and value.get("type") == "secret":
            ident: Any = value.get("id")
            return [(path, str(ident[0]) if isinstance(ident, list) and ident else "")]
        return [
            node
            for key, item in value.items()  # pyright: ignore[reportUnknownVariableType]
            for node in _secret_nodes(item, (*path, str(key)))  # pyright: ignore[reportUnknownArgumentType]
        ]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _secret_nodes(v, (*path, str(i)))]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return []


def redacted_fields(value: Any, path: tuple[str, ...] = ()) -> list[str]:
    """The fields of a recorded constructor or params that hold the redaction marker
    (named by their top-level keyword argument), in order."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            found += redacted_fields(item, (*path, str(key)))  # pyright: ignore[reportUnknownArgumentType]
            if REDACTED in str(key):  # pyright: ignore[reportUnknownArgumentType]
                found.append(_field(path))
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            found += redacted_fields(item, path)
    elif isinstance(value, str) and REDACTED in value:
        found.append(_field(path))
    return list(dict.fromkeys(found))


def _field(path: tuple[str, ...]) -> str:
    inner = path[1:] if path[:1] == ("kwargs",) else path
    return inner[0] if inner else "(the whole value)"


def model_class(call: ModelCall) -> type:
    """The chat model class a recorded constructor names, if LangChain's loader allows
    it (its mapping of serialisable integrations) and it is a chat model."""
    import importlib

    from langchain_core.language_models import BaseChatModel
    from langchain_core.load.load import ALL_SERIALIZABLE_MAPPINGS

    name = call.model_class or "(unknown class)"
    ident: Any = (call.config or {}).get("id")
    parts: list[str] = [str(p) for p in ident] if isinstance(ident, list) else []  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    key = tuple(parts)
    path: tuple[str, ...] | None = ALL_SERIALIZABLE_MAPPINGS.get(key)
    if path is None and key in ALL_SERIALIZABLE_MAPPINGS.values():
        path = key
    if not path:
        raise NotReplayableError(
            f"cannot rebuild the recorded model {name}: {ident!r} is not a class "
            "LangChain's loader allows; pass model="
        )
    try:
        cls: Any = getattr(importlib.import_module(".".join(path[:-1])), path[-1])
    except (ImportError, AttributeError) as exc:
        raise NotReplayableError(f"cannot rebuild the recorded model {name}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, BaseChatModel)):
        raise NotReplayableError(f"the recorded model {name} did not rebuild as a chat model")
    return cls


def provider(cls: type) -> str:
    """The package a model class comes from (``langchain_openai``): whose base-URL
    variables say where it may send (`endpoints`)."""
    return cls.__module__.split(".", 1)[0]


def declared_secrets(cls: type) -> dict[str, str]:
    """The secrets a model class declares (LangChain's ``lc_secrets``, over its MRO as
    ``dumpd`` gathers them): constructor field -> environment variable."""
    instance: Any = cls.model_construct()  # pyright: ignore[reportAttributeAccessIssue]
    declared: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        prop = vars(klass).get("lc_secrets")
        if isinstance(prop, property) and prop.fget is not None:
            declared.update(prop.fget(instance))
    return declared


def resolve_secrets(
    config: Mapping[str, Any],
    declared: Mapping[str, str],
    secrets: Literal["environment", "placeholder"],
) -> dict[str, str]:
    """The secrets map to load ``config`` with: only the environment variables its class
    declares, each only in the field that declares it, never a name the tape chose."""
    names: set[str] = set()
    for path, env in _secret_nodes(config):
        fields = [f for f, n in declared.items() if n == env]
        if not any(path == ("kwargs", *f.split(".")) for f in fields):
            raise NotReplayableError(
                f"the recorded model config takes {env or '(no name)'} from the environment "
                f"at {'.'.join(path)}, which its class does not declare as a secret: "
                "not resolved; pass model="
            )
        names.add(env)
    if secrets == "placeholder":
        return dict.fromkeys(sorted(names), _PLACEHOLDER)
    missing = sorted(n for n in names if not os.environ.get(n))
    if missing:
        raise NotReplayableError(
            f"the recorded model takes {', '.join(missing)} from the environment "
            "(a tape never keeps secrets): set it, or pass model="
        )
    return {n: os.environ[n] for n in sorted(names)}


def rebuild(call: ModelCall, secrets: Literal["environment", "placeholder"]) -> Any:
    """The recorded model, built again from its recorded constructor.

    Secrets come from the environment (a tape never holds them): only those the model's
    class declares. A model to send with (``"environment"``) is refused when any value
    of its constructor was redacted on the tape; placeholders stand in for a model only
    asked for its params, never called.
    """
    from langchain_core._api import LangChainBetaWarning
    from langchain_core.load import load

    name = call.model_class or "(unknown class)"
    if call.config is None:
        raise NotReplayableError(
            f"span {call.span_id}: its model {name} was not recorded in a form LangChain "
            "can rebuild (a class LangChain does not serialise, or an older tracetape); "
            "pass model="
        )
    if secrets == "environment":
        redacted = list(
            dict.fromkeys([*redacted_fields(call.config), *redacted_fields(call.params)])
        )
        if redacted:
            raise NotReplayableError(
                f"the recorded model {name}'s {', '.join(redacted)} were redacted on the "
                "tape (a tape never keeps secrets); pass model=... to rerun with your own "
                "client"
            )
    cls = model_class(call)
    if secrets == "environment":
        endpoints.check(call.config, name, provider(cls))
    secret_map = resolve_secrets(call.config, declared_secrets(cls), secrets)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LangChainBetaWarning)
            # Only the one chat model class named, with only its own declared secrets.
            model = load(
                call.config,
                allowed_objects=[cls],
                secrets_map=secret_map,
                secrets_from_env=False,
            )
    except Exception as exc:
        raise NotReplayableError(f"cannot rebuild the recorded model {name}: {exc}") from exc
    if not isinstance(model, cls):
        raise NotReplayableError(f"the recorded model {name} did not rebuild as a chat model")
    return model


def own_params(call: ModelCall) -> dict[str, Any] | None:
    """The params the recorded model reports by itself, None if it cannot be rebuilt."""
    try:
        return _compat.invocation_params(rebuild(call, "placeholder"))
    except Exception:  # noqa: BLE001 - any failure only means: fall back to _PORTABLE
        return None


def call_arguments(call: ModelCall, own: Mapping[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments the recorded call was made with, bound tools apart.

    ``own``: the recorded model's own params (see `own_params`); the arguments are the
    recorded params it does not report, or reports otherwise, except those redacted on
    the tape. Without it, the few arguments every provider names alike.
    """
    if own is None:
        return {k: call.params[k] for k in _PORTABLE if call.params.get(k) is not None}
    return {
        key: value
        for key, value in call.params.items()
        if (
            key not in own or requests.canonical(to_jsonable(own[key])) != requests.canonical(value)
        )
        and not redacted_fields(value)  # never sent: the model given brings its own
    }
