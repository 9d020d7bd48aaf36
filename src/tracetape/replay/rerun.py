"""`rerun`: send one recorded model call again, ``n`` times, each recorded and linked.

The request is rebuilt exactly (see `model_call`): the recorded messages, the call's
own arguments and bound tools, sent to the recorded model rebuilt from its recorded
constructor, or to the model given. Each send is recorded by the tape's own handler as
a trace of its own whose model span carries ``tracetape.rerun_of``: the span re-run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from tracetape.errors import NotFoundError
from tracetape.replay import _compat, endpoints, model_call, requests
from tracetape.replay.mark import RootMark
from tracetape.replay.model_call import ModelCall
from tracetape.replay.result import Rerun
from tracetape.replay.session import Source, published
from tracetape.spans import semconv


def _read(source: Source, span_id: str) -> ModelCall:
    try:
        return model_call.read_call(source.query, span_id)
    except NotFoundError:
        source.flush()  # it may have ended a moment ago and still wait in the queue
        return model_call.read_call(source.query, span_id)


def _answer_key(message: Any) -> Any:
    """What makes two answers the same: text and tool calls (names and arguments)."""
    if message is None:
        return None
    text: Any = getattr(message, "text", None)
    if not isinstance(text, str):
        text = requests.canonical(getattr(message, "content", None))
    calls = [
        (c.get("name"), requests.canonical(c.get("args")))
        for key in ("tool_calls", "invalid_tool_calls")
        for c in getattr(message, key, None) or []
    ]
    return text, calls


def same_answer(a: Any, b: Any) -> bool:
    """Whether two answers say the same (message and tool call ids aside)."""
    return _answer_key(a) == _answer_key(b)


def _target(call: ModelCall, model: Any) -> tuple[Any, dict[str, Any]]:
    """What to send to, and the keyword arguments to send with."""
    from langchain_core.language_models import BaseChatModel

    if model is None:
        rebuilt = model_call.rebuild(call, "environment")
        kwargs = model_call.call_arguments(call, _compat.invocation_params(rebuilt))
        if call.tools:
            kwargs["tools"] = call.tools
        return rebuilt, kwargs
    if not isinstance(model, BaseChatModel):
        raise TypeError(f"model must be a LangChain chat model, not {type(model).__name__}")
    kwargs = model_call.call_arguments(call, model_call.own_params(call))
    if not call.tools:
        return model, kwargs
    try:  # another provider may take the tools in its own shape
        return model.bind_tools(call.tools), kwargs
    except NotImplementedError:
        return model, {**kwargs, "tools": call.tools}


def _send(target: Any, call: ModelCall, kwargs: Mapping[str, Any], config: Any) -> Any:
    """One answer; streamed when the recorded call streamed (its request said so)."""
    if not call.streamed:
        return target.invoke(call.messages, config=config, **kwargs)
    from langchain_core.messages import message_chunk_to_message

    merged: Any = None
    for chunk in target.stream(call.messages, config=config, **kwargs):
        merged = chunk if merged is None else merged + chunk
    return message_chunk_to_message(merged) if merged is not None else None


def rerun(
    source: Source,
    span_id: str,
    model: Any = None,
    overrides: Mapping[str, Any] | None = None,
    n: int = 1,
) -> Rerun:
    """Send the model call recorded as ``span_id`` again ``n`` times (see `Tape.rerun`);
    the tape's reads see the sends' traces once this returns or raises."""
    if n < 1:
        raise ValueError(f"n must be a positive number of sends, not {n!r}")
    call = _read(source, span_id.strip().lower())
    target, kwargs = _target(call, model)
    kwargs.update(overrides or {})
    token = _compat.active.set(None)  # never answered from a tape, even inside a replay
    outputs: list[Any] = []
    trace_ids: list[str | None] = []
    # A model rebuilt from the tape sends only where the user trusts (each request is
    # checked as its client parsed it); a model given is the user's own.
    guard = (
        endpoints.guarded(call.model_class or "(unknown class)", model_call.provider(type(target)))
        if model is None
        else contextlib.nullcontext()
    )
    try:
        with published(source), guard:
            for _ in range(n):
                mark = RootMark({semconv.RERUN_OF: call.span_id})
                config = {"callbacks": [source.handler, mark]}
                outputs.append(_send(target, call, kwargs, config))
                trace_ids.append(mark.trace_id)
    finally:
        _compat.active.reset(token)
    n_same = sum(same_answer(o, call.response) for o in outputs)
    return Rerun(call.span_id, call.response, outputs, trace_ids, n_same)
