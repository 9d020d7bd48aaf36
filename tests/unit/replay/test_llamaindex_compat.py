"""The private LlamaIndex seams replay relies on (replay/llamaindex/_compat.py).

Each test fails when LlamaIndex changes what the seam assumes: the model callbacks'
wrapper closing over the provider function as ``f``, the retriever's ``retrieve``
calling ``_retrieve`` (``aretrieve`` calling ``_aretrieve(query_bundle=...)``), and a
tool's instrumented ``call`` / ``acall`` being a ``wrapt`` proxy of its own body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
)
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.tools import FunctionTool, ToolOutput

from tracetape.replay.llamaindex import _compat
from tracetape.replay.llamaindex._compat import ModelCall


class Stub:
    """Hooks that answer every call with a fixed value (None: run for real)."""

    def __init__(self, model: Any = None, nodes: list[Any] | None = None, tool: Any = None) -> None:
        self.model = model
        self.nodes = nodes
        self.tool = tool
        self.asked: list[tuple[str, Any]] = []

    def answer_model(self, llm: Any, call: ModelCall) -> Any | None:
        self.asked.append(("model", call))
        return self.model

    def answer_retriever(self, retriever: Any, query_bundle: Any) -> tuple[Any] | None:
        self.asked.append(("retriever", query_bundle))
        return None if self.nodes is None else (self.nodes,)

    def answer_tool(
        self, tool: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any] | None:
        self.asked.append(("tool", kwargs))
        return None if self.tool is None else (self.tool,)


@pytest.fixture
def active() -> Iterator[Any]:
    def use(stub: Stub) -> Stub:
        _compat.install()
        tokens.append(_compat.active.set(stub))
        return stub

    tokens: list[Any] = []
    yield use
    for token in reversed(tokens):
        _compat.active.reset(token)


@pytest.mark.parametrize("aio", [False, True])
@pytest.mark.parametrize(
    ("decorator", "chat"), [(llm_chat_callback, True), (llm_completion_callback, False)]
)
def test_model_callbacks_close_over_the_provider_function(decorator, chat, aio):
    def provider(self: Any, *args: Any, **kwargs: Any) -> Any:
        return None

    async def aprovider(self: Any, *args: Any, **kwargs: Any) -> Any:
        return None

    target = aprovider if aio else provider
    wrapped = decorator()(target)
    found = _compat.provider_cell(wrapped)
    assert found is not None, wrapped.__code__.co_name
    cell, is_chat = found
    assert cell.cell_contents is target
    assert is_chat is chat


def test_model_classes_are_found_through_the_dispatcher_span():
    for cls, name, chat in (
        (MockLLM, "complete", False),
        (MockLLM, "stream_complete", False),
        (CustomLLM, "chat", True),
        (CustomLLM, "astream_chat", True),
    ):
        found = _compat.provider_cell(cls.__dict__[name])
        assert found is not None, (cls, name)
        assert found[1] is chat


def test_an_answered_model_call_skips_the_provider_and_keeps_the_events(active):
    stub = active(Stub(model=CompletionResponse(text="from the tape")))
    llm = MockLLM()
    assert llm.complete("hello").text == "from the tape"
    chunks = list(llm.stream_complete("hello"))
    assert [c.text for c in chunks] == ["from the tape"]
    assert asyncio.run(llm.acomplete("hello")).text == "from the tape"
    calls = [call for kind, call in stub.asked if kind == "model"]
    assert [(c.chat, c.stream, c.args) for c in calls] == [
        (False, False, ("hello",)),
        (False, True, ("hello",)),
        (False, False, ("hello",)),
    ]


def test_a_chat_answered_from_the_tape_and_one_run_for_real(active):
    answer = ChatResponse(message=ChatMessage(role="assistant", content="taped"))
    stub = active(Stub(model=answer))
    messages = [ChatMessage(role="user", content="hi")]
    assert MockLLM().chat(messages).message.content == "taped"

    stub.model = None
    stub.asked.clear()
    real = MockLLM().chat(messages)  # CustomLLM.chat calls self.complete: asked once
    assert "hi" in str(real.message.content)
    assert len(stub.asked) == 1 and stub.asked[0][1].chat is True


def test_without_a_replay_models_run_for_real():
    _compat.install()
    assert MockLLM().complete("plain").text == "plain"


class Fixed(BaseRetriever):
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [NodeWithScore(node=TextNode(text="real", id_="real"), score=1.0)]


def test_retrieve_calls_the_answered_body(active):
    taped = [NodeWithScore(node=TextNode(text="taped", id_="taped"), score=0.5)]
    stub = active(Stub(nodes=taped))
    assert [n.node.node_id for n in Fixed().retrieve("q")] == ["taped"]
    got = asyncio.run(Fixed().aretrieve("q"))
    assert [n.node.node_id for n in got] == ["taped"]
    bundles = [b for kind, b in stub.asked if kind == "retriever"]
    assert [b.query_str for b in bundles] == ["q", "q"]

    stub.nodes = None
    stub.asked.clear()
    # BaseRetriever._aretrieve calls self._retrieve: asked once, then passes through
    assert [n.node.node_id for n in asyncio.run(Fixed().aretrieve("q"))] == ["real"]
    assert len(stub.asked) == 1


def double(x: int) -> int:
    """Double a number."""
    return 2 * x


def test_a_tool_body_is_answered_inside_its_instrumented_method(active):
    assert hasattr(FunctionTool.__dict__["call"], "_self_wrapper")  # dispatcher.span's
    assert hasattr(FunctionTool.__dict__["acall"], "_self_wrapper")
    taped = ToolOutput(tool_name="double", content="taped", raw_input={}, raw_output=-1)
    stub = active(Stub(tool=taped))
    tool = FunctionTool.from_defaults(double)
    assert tool.call(x=2).raw_output == -1
    assert asyncio.run(tool.acall(x=2)).raw_output == -1
    assert [k for kind, k in stub.asked if kind == "tool"] == [{"x": 2}, {"x": 2}]

    stub.tool = None
    assert tool.call(x=2).raw_output == 4
    assert asyncio.run(tool.acall(x=3)).raw_output == 6
