"""Replay of LlamaIndex apps through the public surface: a real VectorStoreIndex, real
query and chat engines, a counting MockLLM and a counting MockEmbedding."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import PromptTemplate
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.tools import FunctionTool
from pydantic import Field

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import LlamaIndexRecorder
from tracetape.replay import Replay, ReplayDivergence

QUESTION = "How long do cats sleep?"
TERSE = PromptTemplate("Answer tersely.\n{context_str}\nQ: {query_str}\nA: ")


@pytest.fixture
def embed() -> fakes.CountingEmbedding:
    return fakes.CountingEmbedding(embed_dim=fakes.DIMENSIONS)


@pytest.fixture
def index(embed: fakes.CountingEmbedding) -> Any:
    return fakes.index(embed)


@pytest.fixture
def recording(tape: Any) -> Iterator[LlamaIndexRecorder]:
    with fakes.attached(tape.recorder) as pair:
        yield pair


def record(tape: Any, engine: Any) -> tuple[str, Any]:
    answer = engine.query(QUESTION)
    tape.flush()
    return str(tape.traces().trace_id[0]), answer


def sources(response: Any) -> list[tuple[str, str, float | None]]:
    return [(n.node.node_id, n.node.get_content(), n.score) for n in response.source_nodes]


def test_a_query_engine_replays_without_model_or_embeddings(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, recorded = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    assert (llm.calls, embed.queries) == (1, 1)

    replay = tape.replay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=2))

    assert isinstance(replay, Replay)
    assert (llm.calls, embed.queries) == (1, 1)  # neither model was asked
    assert str(replay.output) == str(recorded)
    assert str(replay.output).startswith("answer to: Context information is below.")
    assert sources(replay.output) == sources(recorded)
    assert replay.divergences == []
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (2, 0, True)
    tape.flush()
    row = tape.sql(
        "select replay_of, n_llm, n_retriever from traces where trace_id = ?", [replay.trace_id]
    )
    assert row.to_dict("records") == [{"replay_of": trace_id, "n_llm": 1, "n_retriever": 1}]
    assert (
        tape.sql("select replay_of from traces where trace_id = ?", [trace_id])
        .replay_of.isna()
        .all()
    )
    # the replayed spans hold the played-back nodes and answer, as the recording does
    spans = "select kind, output from spans where trace_id = ? and kind in ('llm', 'retriever') "
    original = tape.sql(spans + "order by start_time", [trace_id])
    played = tape.sql(spans + "order by start_time", [replay.trace_id])
    assert played.kind.tolist() == ["retriever", "llm"]
    assert played.output.tolist() == original.output.tolist()


def test_a_changed_prompt_template_diverges_at_the_model_call(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, _ = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    changed = index.as_query_engine(llm=llm, similarity_top_k=2, text_qa_template=TERSE)

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=changed)

    divergence = caught.value.divergence
    recorded_llm = tape.sql(
        "select span_id, name from spans where trace_id = ? and kind = 'llm'", [trace_id]
    ).iloc[0]
    assert (divergence.kind, divergence.position) == ("llm", 1)
    assert (divergence.span_id, divergence.name) == (recorded_llm.span_id, recorded_llm["name"])
    assert "-prompt: Context information is below." in divergence.diff
    assert "+prompt: Answer tersely." in divergence.diff
    assert "+  Q: How long do cats sleep?" in divergence.diff
    assert "Answer tersely" in str(caught.value)
    assert llm.calls == 1
    partial = caught.value.replay
    assert partial is not None and partial.replay_of == trace_id
    tape.flush()
    assert tape.sql(
        "select replay_of from traces where trace_id = ?", [partial.trace_id]
    ).replay_of.tolist() == [trace_id]


def test_live_model_sends_the_new_prompt_and_retrieval_stays_on_tape(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, recorded = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    changed = index.as_query_engine(llm=llm, similarity_top_k=2, text_qa_template=TERSE)

    replay = tape.replay(trace_id, app=changed, live=("llm",))

    assert llm.calls == 2
    assert embed.queries == 1  # retrieval answered from the tape
    assert str(replay.output).startswith("answer to: Answer tersely.")
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (1, 1, False)
    assert sources(replay.output) == sources(recorded)
    tape.flush()
    sent = tape.sql(
        "select attributes->>'gen_ai.input.messages' as m from spans "
        "where trace_id = ? and kind = 'llm'",
        [replay.trace_id],
    ).m[0]
    assert "Answer tersely." in sent


def test_on_divergence_live_asks_the_model_from_the_divergence_on(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, _ = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
    changed = index.as_query_engine(llm=llm, similarity_top_k=2, text_qa_template=TERSE)

    replay = tape.replay(trace_id, app=changed, on_divergence="live")

    assert [(d.kind, d.position) for d in replay.divergences] == [("llm", 1)]
    assert llm.calls == 2 and embed.queries == 1
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (1, 1, False)
    assert str(replay.output).startswith("answer to: Answer tersely.")


def test_an_instrumented_process_records_the_replay_once(tape, index, embed):
    import tracetape

    llm = fakes.CountingLLM()
    tracetape.instrument(tape)
    try:
        trace_id, recorded = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))
        replay = tape.replay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=2))
    finally:
        tracetape.uninstrument()
    assert str(replay.output) == str(recorded) and llm.calls == 1
    tape.flush()
    rows = tape.sql("select trace_id, replay_of from traces order by start_time")
    assert rows.replay_of.isna().tolist() == [True, False]
    kinds = "select kind from spans where trace_id = ? order by start_time, kind"
    original = tape.sql(kinds, [trace_id]).kind.tolist()
    played = tape.sql(kinds, [replay.trace_id]).kind.tolist()
    # each span once; no embedding: the retrieval was answered from the tape
    assert played == [k for k in original if k != "embedding"]


def test_a_changed_retriever_config_diverges_at_the_retrieval(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    trace_id, _ = record(tape, index.as_query_engine(llm=llm, similarity_top_k=2))

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=1))

    divergence = caught.value.divergence
    assert (divergence.kind, divergence.position) == ("retriever", 0)
    assert '"similarity_top_k":2' in divergence.diff
    assert '"similarity_top_k":1' in divergence.diff
    assert (llm.calls, embed.queries) == (1, 1)


def test_an_async_query_replays_with_areplay(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    recorded = asyncio.run(engine.aquery(QUESTION))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = asyncio.run(
        tape.areplay(trace_id, app=index.as_query_engine(llm=llm, similarity_top_k=2))
    )

    assert (llm.calls, embed.queries) == (1, 1)
    assert str(replay.output) == str(recorded)
    assert sources(replay.output) == sources(recorded)
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (2, 0, True)
    tape.flush()
    row = tape.sql("select name, replay_of from traces where trace_id = ?", [replay.trace_id])
    assert row.replay_of.tolist() == [trace_id]


def test_a_streaming_query_engine_replays_its_answer_read_inside_the_replay(
    tape, index, embed, recording
):
    llm = fakes.CountingLLM()
    engine = index.as_query_engine(llm=llm, similarity_top_k=2, streaming=True)
    text = "".join(engine.query(QUESTION).response_gen)
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])  # the answer, read later, is in the trace

    fresh = index.as_query_engine(llm=llm, similarity_top_k=2, streaming=True)
    replay = tape.replay(trace_id, app=fresh)

    assert (llm.calls, embed.queries) == (1, 1)
    assert text.startswith("answer to: Context information")
    assert str(replay.output) == text
    assert "".join(replay.output.response_gen) == text
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (2, 0, True)
    tape.flush()
    row = tape.sql("select replay_of, n_llm from traces where trace_id = ?", [replay.trace_id])
    assert row.to_dict("records") == [{"replay_of": trace_id, "n_llm": 1}]


def test_an_async_streaming_query_engine_replays(tape, index, embed, recording):
    llm = fakes.CountingLLM()

    async def read(engine: Any) -> str:
        response = await engine.aquery(QUESTION)
        return "".join([t async for t in response.response_gen])

    def engine() -> Any:
        return index.as_query_engine(llm=llm, similarity_top_k=2, streaming=True)

    text = asyncio.run(read(engine()))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = asyncio.run(tape.areplay(trace_id, app=engine()))

    assert (llm.calls, embed.queries) == (1, 1)
    assert replay.output.response_txt == text
    assert replay.divergences == []
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (2, 0, True)


def memory() -> Any:
    """An in-process chat memory (the default opens an aiosqlite engine nobody closes)."""
    from llama_index.core.memory import ChatMemoryBuffer

    return ChatMemoryBuffer.from_defaults(token_limit=100_000, tokenizer_fn=str.split)


def test_a_chat_engine_replays(tape, index, embed, recording):
    llm = fakes.CountingLLM()
    engine = index.as_chat_engine(chat_mode="context", llm=llm, memory=memory())
    recorded = engine.chat(QUESTION)
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    assert llm.calls == 1

    fresh = index.as_chat_engine(chat_mode="context", llm=llm, memory=memory())  # empty
    replay = tape.replay(trace_id, app=fresh)

    assert (llm.calls, embed.queries) == (1, 1)
    assert replay.output.response == recorded.response
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (2, 0, True)
    assert sources(replay.output) == sources(recorded)
    assert [m.content for m in fresh.chat_history] == [QUESTION, recorded.response]


def test_a_streamed_simple_chat_replays(tape, recording):
    llm = fakes.CountingLLM()
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory())
    text = "".join(engine.stream_chat(QUESTION).response_gen)
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    fresh = SimpleChatEngine.from_defaults(llm=llm, memory=memory())
    replay = tape.replay(trace_id, app=fresh)

    assert "".join(replay.output.response_gen) == text
    assert llm.calls == 1
    assert [m.content for m in fresh.chat_history] == [QUESTION, text.strip()]


SIDE_EFFECTS: list[str] = []


def add(a: int, b: int) -> int:
    """Add two integers."""
    SIDE_EFFECTS.append(f"add {a} {b}")
    return a + b


def agent(llm: Any, streaming: bool) -> Any:
    return FunctionAgent(tools=[FunctionTool.from_defaults(add)], llm=llm, streaming=streaming)


def script() -> list[Any]:
    return [[("add", {"a": 2, "b": 3}, "call-1")], "It is 5."]


async def run(flow: Any, message: str) -> Any:
    """``Workflow.run`` starts its task at once, so it is called inside the loop."""
    return await flow.run(user_msg=message, memory=memory())


# Building an agent, the workflows runtime reads every attribute of it, pydantic's
# deprecated ones included.
AGENT_WARNINGS = (
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
)


def record_agent(tape: Any, llm: Any, streaming: bool) -> tuple[str, Any]:
    fakes.offline_settings()
    recorded = asyncio.run(run(agent(llm, streaming), "Add 2 and 3."))
    tape.flush()
    SIDE_EFFECTS.clear()
    return str(tape.traces().trace_id[0]), recorded


@AGENT_WARNINGS[0]
@AGENT_WARNINGS[1]
def test_an_agent_replays_its_model_and_tool_calls_from_the_tape(tape, recording):
    llm = fakes.ScriptedToolLLM(script=script())
    trace_id, recorded = record_agent(tape, llm, streaming=False)
    assert llm.calls == 2

    replay = asyncio.run(tape.areplay(trace_id, app=agent(llm, streaming=False)))

    assert llm.calls == 2  # no model call
    assert SIDE_EFFECTS == []  # no tool ran
    assert replay.output.response.content == recorded.response.content == "It is 5."
    assert [c.tool_output.raw_output for c in replay.output.tool_calls] == [5]
    assert replay.divergences == []
    tape.flush()
    row = tape.sql(
        "select replay_of, n_llm, n_tool from traces where trace_id = ?", [replay.trace_id]
    )
    assert row.to_dict("records") == [{"replay_of": trace_id, "n_llm": 2, "n_tool": 1}]


@AGENT_WARNINGS[0]
@AGENT_WARNINGS[1]
def test_the_sync_replay_of_an_agent_works_inside_a_running_loop(tape, recording):
    llm = fakes.ScriptedToolLLM(script=script())
    trace_id, recorded = record_agent(tape, llm, streaming=False)

    async def in_a_notebook() -> Replay:  # Jupyter runs cells inside its event loop
        return tape.replay(trace_id, app=agent(llm, streaming=False))

    replay = asyncio.run(in_a_notebook())

    assert llm.calls == 2 and SIDE_EFFECTS == []  # answered from the tape
    assert replay.output.response.content == recorded.response.content == "It is 5."
    assert replay.divergences == []
    tape.flush()
    rows = tape.sql("select replay_of, n_llm from traces where trace_id = ?", [replay.trace_id])
    assert rows.to_dict("records") == [{"replay_of": trace_id, "n_llm": 2}]


@AGENT_WARNINGS[0]
@AGENT_WARNINGS[1]
def test_a_streaming_agent_gets_its_recorded_answer_as_one_chunk(tape, recording):
    llm = fakes.ScriptedToolLLM(script=["Cats sleep sixteen hours."])
    trace_id, recorded = record_agent(tape, llm, streaming=True)

    replay = asyncio.run(tape.areplay(trace_id, app=agent(llm, streaming=True)))

    assert llm.calls == 1
    assert replay.output.response.content == recorded.response.content
    tape.flush()
    streamed = tape.sql(
        "select attributes->>'tracetape.model.streamed' as s, output from spans "
        "where trace_id = ? and kind = 'llm'",
        [replay.trace_id],
    )
    assert streamed.s.tolist() == ["true"]
    assert "Cats sleep sixteen hours." in streamed.output[0]


@AGENT_WARNINGS[0]
@AGENT_WARNINGS[1]
def test_a_tool_named_in_live_runs_for_real(tape, recording):
    llm = fakes.ScriptedToolLLM(script=script())
    trace_id, _ = record_agent(tape, llm, streaming=False)

    replay = tape.replay(trace_id, app=agent(llm, streaming=False), live=("add",))

    assert SIDE_EFFECTS == ["add 2 3"]
    assert llm.calls == 2
    assert replay.output.response.content == "It is 5."
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (2, 1, None)


@AGENT_WARNINGS[0]
@AGENT_WARNINGS[1]
def test_an_agent_given_another_question_diverges_at_its_first_model_call(tape, recording):
    llm = fakes.ScriptedToolLLM(script=script())
    trace_id, _ = record_agent(tape, llm, streaming=False)
    tools = [FunctionTool.from_defaults(add)]
    other = FunctionAgent(tools=tools, llm=llm, streaming=False, system_prompt="Be exact.")

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=other)

    divergence = caught.value.divergence
    assert (divergence.kind, divergence.position) == ("llm", 0)
    assert "+system: Be exact." in divergence.diff
    assert "user: Add 2 and 3." in divergence.diff
    assert (llm.calls, SIDE_EFFECTS) == (2, [])


LLAMAINDEX_ONLY = """
import sys

# A LlamaIndex-only install: LangChain and LangGraph cannot be imported.
for name in ("langchain_core", "langchain", "langgraph"):
    sys.modules[name] = None

import tracetape
from tests.fakes import llamaindex as fakes

tape = tracetape.open(sys.argv[1])
tracetape.instrument(tape)
llm = fakes.CountingLLM()
engine = fakes.index().as_query_engine(llm=llm, similarity_top_k=2)
recorded = engine.query("How long do cats sleep?")
tape.flush()
trace_id = str(tape.traces().trace_id[0])
replay = tape.replay(trace_id, app=engine)
assert str(replay.output) == str(recorded), (replay.output, recorded)
assert llm.calls == 1, llm.calls
assert not [m for m in sys.modules if m.startswith(("langchain", "langgraph")) and sys.modules[m]]
print("replayed", replay.trace_id)
tape.close()
"""


def test_a_llamaindex_only_install_replays_without_langchain(tmp_path):
    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "llamaindex_only.py"
    script.write_text(LLAMAINDEX_ONLY)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "tape.duckdb")],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "TRACETAPE_STRICT": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("replayed ")


class Gate(BaseNodePostprocessor):
    """Orders two replays in threads: "early" starts first and waits inside until "late"
    is inside too; "late" then waits until "early" has returned."""

    events: dict[str, Any] = Field(default_factory=dict)

    def _postprocess_nodes(self, nodes: list[Any], query_bundle: Any = None) -> list[Any]:
        name = threading.current_thread().name
        if name not in ("early", "late"):  # the recording
            return nodes
        self.events[f"{name} inside"].set()
        other = "late inside" if name == "early" else "early returned"
        assert self.events[other].wait(timeout=20)
        return nodes


def test_concurrent_replays_are_each_recorded_whole(tape, index, embed):
    """Replays in threads share the handlers attached for them: the first to return must
    not stop recording the others (nothing of the user's is attached here)."""
    llm = fakes.CountingLLM()
    events = {n: threading.Event() for n in ("early inside", "late inside", "early returned")}
    gate = Gate(events=events)
    engine = index.as_query_engine(llm=llm, similarity_top_k=2, node_postprocessors=[gate])
    with fakes.attached(tape.recorder):
        trace_id, recorded = record(tape, engine)
    results: dict[str, Replay] = {}

    def replay(name: str) -> None:
        results[name] = tape.replay(trace_id, app=engine)
        if name == "early":
            events["early returned"].set()

    early = threading.Thread(target=replay, args=("early",), name="early")
    late = threading.Thread(target=replay, args=("late",), name="late")
    early.start()
    assert events["early inside"].wait(timeout=20)
    late.start()
    early.join(timeout=30)
    late.join(timeout=30)

    assert sorted(results) == ["early", "late"] and llm.calls == 1
    shape = "select n_llm, n_retriever, replay_of from traces where trace_id = ?"
    for replay in results.values():
        assert replay.same_output and str(replay.output) == str(recorded)
        row = tape.sql(shape, [replay.trace_id]).to_dict("records")
        assert row == [{"n_llm": 1, "n_retriever": 1, "replay_of": trace_id}]
