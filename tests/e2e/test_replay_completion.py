"""Replay of LangChain completion models (``BaseLLM``) inside real LangGraph graphs.

The model is langchain_core's ``FakeListLLM`` (a provider stand-in) counting the calls
that reach it, so a replay that never does leaves the count at 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.language_models import FakeListLLM
from langchain_core.outputs import GenerationChunk
from langchain_core.prompts import PromptTemplate
from langgraph.graph import END, START, StateGraph

from tracetape.replay import ReplayDivergence

TEMPLATE = "Answer in one word. Question: {question}"


class CountingLLM(FakeListLLM):
    """``FakeListLLM`` that counts the prompts it answers."""

    calls: int = 0

    def _call(self, prompt: str, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        return super()._call(prompt, *args, **kwargs)

    async def _acall(self, prompt: str, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        return await super()._acall(prompt, *args, **kwargs)


class StreamingLLM(CountingLLM):
    """``CountingLLM`` that streams its answer in words (implements ``_stream``)."""

    def _stream(self, prompt: str, *args: Any, **kwargs: Any) -> Iterator[GenerationChunk]:
        for i, word in enumerate(self._call(prompt, *args, **kwargs).split(" ")):
            yield GenerationChunk(text=word if i == 0 else f" {word}")


class State(TypedDict, total=False):
    question: str
    answer: str
    more: list[str]


def graph(llm: CountingLLM, template: str = TEMPLATE, *, aio: bool = False) -> Any:
    """Ask through a prompt template, then a batch of two follow-up prompts."""
    chain = PromptTemplate.from_template(template) | llm

    def ask(state: State) -> State:
        answer = chain.invoke({"question": state["question"]})
        more = llm.batch([f"Spell {answer}.", f"Translate {answer}."])
        return {"answer": answer, "more": more}

    async def aask(state: State) -> State:
        answer = await chain.ainvoke({"question": state["question"]})
        more = await llm.abatch([f"Spell {answer}.", f"Translate {answer}."])
        return {"answer": answer, "more": more}

    builder = StateGraph(State)
    builder.add_node("ask", aask if aio else ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(name="completion")


RECORDED = ["Paris", "P-A-R-I-S", "Parigi"]
QUESTION = {"question": "Capital of France?"}


def record(tape: Any, *, aio: bool = False) -> tuple[str, dict[str, Any]]:
    llm = model()
    app = graph(llm, aio=aio)
    config: Any = {"callbacks": [tape.langchain()]}
    out = asyncio.run(app.ainvoke(QUESTION, config=config)) if aio else app.invoke(QUESTION, config)
    assert llm.calls == 3
    tape.flush()
    return str(tape.traces().trace_id[0]), out


def model() -> CountingLLM:
    """The recorded model, configured alike for every run (its params are compared)."""
    return CountingLLM(responses=RECORDED)


def test_completion_calls_are_answered_from_the_tape(tape):
    trace_id, recorded = record(tape)
    assert recorded == {**QUESTION, "answer": "Paris", "more": ["P-A-R-I-S", "Parigi"]}
    llm = model()

    replay = tape.replay(trace_id, app=graph(llm))

    assert llm.calls == 0
    assert replay.output == recorded
    assert (replay.from_tape, replay.ran_live, replay.divergences) == (3, 0, [])
    assert replay.same_output is True
    tape.flush()
    row = tape.sql(
        "select replay_of, n_llm from traces where trace_id = ?", [replay.trace_id]
    ).to_dict("records")
    assert row == [{"replay_of": trace_id, "n_llm": 3}]


def test_an_async_graph_replays_completion_calls(tape):
    trace_id, recorded = record(tape, aio=True)
    llm = model()

    replay = asyncio.run(tape.areplay(trace_id, app=graph(llm, aio=True)))

    assert llm.calls == 0
    assert replay.output == recorded
    assert replay.from_tape == 3


def test_a_changed_prompt_diverges_with_a_diff(tape):
    trace_id, _ = record(tape)
    llm = model()

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=graph(llm, "Answer at length. Question: {question}"))

    divergence = caught.value.divergence
    assert (divergence.kind, divergence.position) == ("llm", 0)
    assert "-prompt: Answer in one word. Question: Capital of France?" in divergence.diff
    assert "+prompt: Answer at length. Question: Capital of France?" in divergence.diff
    assert llm.calls == 0


def test_live_llm_calls_the_model(tape):
    trace_id, _ = record(tape)
    llm = model()

    replay = tape.replay(trace_id, app=graph(llm), live=("llm",))

    assert llm.calls == 3
    assert replay.output["answer"] == "Paris"
    assert (replay.from_tape, replay.ran_live) == (0, 3)


def test_a_streaming_completion_model_is_played_back(tape):
    def app(llm: StreamingLLM) -> Any:
        def ask(state: State) -> State:
            return {"answer": "|".join(llm.stream(state["question"]))}

        builder = StateGraph(State)
        builder.add_node("ask", ask)
        builder.add_edge(START, "ask")
        builder.add_edge("ask", END)
        return builder.compile(name="streaming")

    llm = StreamingLLM(responses=["Paris it is"])
    recorded = app(llm).invoke(QUESTION, {"callbacks": [tape.langchain()]})
    assert (recorded["answer"], llm.calls) == ("Paris| it| is", 1)
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    llm = StreamingLLM(responses=["Paris it is"])

    replay = tape.replay(trace_id, app=app(llm))

    assert llm.calls == 0
    assert replay.output["answer"] == "Paris it is"  # played back in one chunk
    assert (replay.from_tape, replay.divergences) == (1, [])
