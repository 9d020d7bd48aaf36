"""The private LangChain seams replay wraps: these fail when LangChain changes them."""

from __future__ import annotations

import inspect

from langchain_core.language_models import BaseChatModel
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, StructuredTool

from tracetape.replay import _compat


def _params(function: object) -> list[str]:
    return list(inspect.signature(inspect.unwrap(function)).parameters)  # type: ignore[arg-type]


def test_chat_model_seams_exist_with_the_expected_signatures():
    for name in ("_generate_with_cache", "_agenerate_with_cache"):
        assert _params(getattr(BaseChatModel, name))[:4] == [
            "self",
            "messages",
            "stop",
            "run_manager",
        ]
    assert "async_api" in _params(BaseChatModel._should_stream)


def test_tool_and_retriever_bodies_are_the_methods_their_runs_call():
    assert inspect.getsource(inspect.unwrap(BaseTool.run)).count("self._run") >= 1
    assert "_get_relevant_documents" in inspect.getsource(inspect.unwrap(BaseRetriever.invoke))
    assert "_aget_relevant_documents" in inspect.getsource(inspect.unwrap(BaseRetriever.ainvoke))


def test_install_wraps_each_class_once_and_passes_through_when_idle():
    _compat.install()
    _compat.install()
    wrapped = StructuredTool.__dict__["_run"]
    original = wrapped.__tracetape_replay_original__
    assert not hasattr(original, "__tracetape_replay_original__")
    assert _compat.active.get() is None
    tool = StructuredTool.from_function(lambda x: x * 2, name="double", description="Double.")
    assert tool.invoke({"x": 4}) == 8


def test_a_tool_answered_by_the_active_hooks_does_not_run():
    _compat.install()
    ran: list[int] = []

    def body(x: int) -> int:
        ran.append(x)
        return x

    tool = StructuredTool.from_function(body, name="body", description="Body.")

    class Hooks:
        def model(self, model: object, messages: list[object]) -> None:
            return None

        def stream_allowed(self) -> bool:
            return True

        def tool(self, tool: object) -> tuple[object]:
            return ("answered",)

        def retriever(self, retriever: object) -> None:
            return None

    token = _compat.active.set(Hooks())
    try:
        assert tool.invoke({"x": 1}) == "answered"
    finally:
        _compat.active.reset(token)
    assert ran == []


def test_a_model_reports_its_own_params_apart_from_a_call_s_arguments():
    from langchain_openai import ChatOpenAI

    assert "stop" in _params(BaseChatModel._get_invocation_params)
    model = ChatOpenAI(model="gpt-4o", api_key="sk-unused", temperature=0.3)  # pyright: ignore[reportArgumentType]
    own = _compat.invocation_params(model)
    assert own["model"] == "gpt-4o" and own["temperature"] == 0.3 and own["stop"] is None
    assert "tools" not in own
    bound = model._get_invocation_params(stop=None, tool_choice="required")  # pyright: ignore[reportPrivateUsage]
    assert bound == {**own, "tool_choice": "required"}
