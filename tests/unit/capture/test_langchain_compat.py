"""Fails when LangChain / LangGraph change the private things `_compat` touches."""

from __future__ import annotations

import asyncio
import contextvars

from langgraph.errors import GraphBubbleUp, GraphInterrupt, ParentCommand
from langgraph.types import Command, Interrupt

from tracetape.capture.langchain import _compat


def test_configure_hooks_is_a_list_of_four_tuples():
    hooks = _compat.configure_hooks()
    assert isinstance(hooks, list)
    assert all(isinstance(h, tuple) and len(h) == 4 for h in hooks)


def test_register_and_remove_hook_round_trip():
    var: contextvars.ContextVar[object] = contextvars.ContextVar("probe", default=None)
    before = len(_compat.configure_hooks())
    _compat.register_hook(var)
    assert len(_compat.configure_hooks()) == before + 1
    assert _compat.configure_hooks()[-1][0] is var
    _compat.remove_hook(var)
    assert len(_compat.configure_hooks()) == before


def test_control_flow_is_classified_by_type():
    interrupt = GraphInterrupt([Interrupt(value={"q": 1}, id="i1")])
    assert _compat.control_flow_kind(interrupt) == "interrupt"
    assert _compat.interrupt_values(interrupt) == [{"q": 1}]
    assert _compat.control_flow_kind(ParentCommand(Command(graph=Command.PARENT))) == "command"
    assert issubclass(GraphInterrupt, GraphBubbleUp)
    assert _compat.control_flow_kind(asyncio.CancelledError()) == "cancelled"
    # An error whose message looks like control flow is still an error.
    assert _compat.control_flow_kind(RuntimeError("GraphInterrupt")) is None


def test_running_body_is_the_run_whose_function_runs_here():
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.runnables import RunnableLambda

    seen: list[object] = []

    class Starts(BaseCallbackHandler):
        def on_chain_start(self, serialized, inputs, *, run_id, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(run_id)

    def body(x: str) -> str:
        seen.append(_compat.running_body())
        return x

    RunnableLambda(body).invoke("x", config={"callbacks": [Starts()]})

    assert _compat.running_body() is None  # outside any run
    assert seen[0] is not None and seen == [seen[0], seen[0]]
