"""``tape.replay(..., from_step=N)``: a LangGraph graph with an InMemorySaver resumes at a
recorded step from its own checkpoint history; the calls from that step on are answered
from the tape, the ones before it are not made again."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import pytest
from langchain_core.language_models import FakeListChatModel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from tests.e2e.test_replay import QUESTION, SIDE_EFFECTS, agent, script_three_steps, shape
from tests.fakes.openai_server import Reply
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.replay import CheckpointNotFoundError, NotReplayableError, ReplayDivergence

THREAD = {"configurable": {"thread_id": "support-42"}}


def record(tape: Any, app: Any, config: Any = THREAD) -> tuple[str, Any]:
    out = app.invoke(QUESTION, config={**config, "callbacks": [tape.langchain()]})
    tape.flush()
    return str(tape.traces().trace_id[0]), out


def steps(tape: Any, trace_id: str) -> list[tuple[str, str, int]]:
    """(kind, name, step of the node it ran in) of every model and tool call, in order."""
    frame = tape.sql(
        "select span_id, parent_span_id, kind, name, "
        "(attributes->>'tracetape.langgraph.step')::int as step from spans "
        "where trace_id = ? order by start_time, name",
        [trace_id],
    )
    rows = {r.span_id: r for r in frame.itertuples(index=False)}

    def node_step(row: Any) -> int:
        while row.kind != "node":
            row = rows[row.parent_span_id]
        return int(row.step)

    return [(r.kind, r.name, node_step(r)) for r in rows.values() if r.kind in ("llm", "tool")]


def test_from_step_resumes_at_the_recorded_checkpoint(tape, openai_server):
    script_three_steps(openai_server)
    app = agent(openai_server.chat_model(), checkpointer=InMemorySaver())
    trace_id, recorded = record(tape, app)
    assert [s[2] for s in steps(tape, trace_id)] == [1, 2, 2, 3, 4, 5]
    SIDE_EFFECTS.clear()

    replay = tape.replay(trace_id, app=app, from_step=3)

    assert shape(replay.output) == shape(recorded)
    assert openai_server.request_count == 3
    assert SIDE_EFFECTS == []
    assert (replay.from_tape, replay.ran_live, replay.divergences) == (3, 0, [])
    tape.flush()
    # Only the calls from step 3 on ran (LangGraph numbers a fork's steps on from its own).
    assert [kind for kind, _, _ in steps(tape, replay.trace_id)] == ["llm", "tool", "llm"]
    row = tape.sql("select replay_of from traces where trace_id = ?", [replay.trace_id])
    assert row.replay_of[0] == trace_id


def test_a_changed_graph_diverges_at_the_resumed_step(tape, openai_server):
    script_three_steps(openai_server)
    saver = InMemorySaver()
    trace_id, _ = record(tape, agent(openai_server.chat_model(), checkpointer=saver))
    changed = agent(openai_server.chat_model(), "You are a sloppy calculator.", checkpointer=saver)

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=changed, from_step=3)

    assert (caught.value.divergence.kind, caught.value.divergence.position) == ("llm", 3)
    assert "+system: You are a sloppy calculator." in caught.value.divergence.diff
    assert openai_server.request_count == 3


def test_each_run_on_a_thread_resumes_from_its_own_checkpoints(tape, openai_server):
    app = agent(openai_server.chat_model(), checkpointer=InMemorySaver())
    script_three_steps(openai_server)
    first, recorded = record(tape, app)
    openai_server.script(Reply(content="You are welcome."))
    second, _ = record(tape, app)  # the same thread goes on: input 6, start 7, model 8
    assert first != second and [s[2] for s in steps(tape, second)] == [8]

    for _ in range(2):  # each replay runs on a new thread; the recorded one is unchanged
        replay = tape.replay(first, app=app, from_step=5)
        assert shape(replay.output) == shape(recorded)
        assert replay.from_tape == 1

    with pytest.raises(CheckpointNotFoundError, match="steps 0 to 5"):
        tape.replay(first, app=app, from_step=7)
    # A whole replay of the second run starts from the state it started from: the model
    # is asked with the first run's conversation before the new question, as recorded.
    again = tape.replay(second, app=app)
    assert (again.from_tape, again.same_output) == (1, True)
    assert openai_server.request_count == 4


def test_a_thread_the_checkpointer_no_longer_holds_is_a_clear_error(tape, openai_server):
    script_three_steps(openai_server)
    trace_id, _ = record(tape, agent(openai_server.chat_model(), checkpointer=InMemorySaver()))
    fresh = agent(openai_server.chat_model(), checkpointer=InMemorySaver())  # a new process

    with pytest.raises(CheckpointNotFoundError) as caught:
        tape.replay(trace_id, app=fresh, from_step=3)

    message = str(caught.value)
    assert "'support-42'" in message and "InMemorySaver" in message and trace_id in message
    assert openai_server.request_count == 3
    # Without from_step the same trace still replays from its recorded input.
    assert tape.replay(trace_id, app=fresh).from_tape == 6


def test_from_step_needs_a_checkpointed_run_and_graph(tape, openai_server):
    script_three_steps(openai_server)
    trace_id, _ = record(tape, agent(openai_server.chat_model()), config={})

    with pytest.raises(NotReplayableError, match="no LangGraph thread id"):
        tape.replay(trace_id, app=agent(openai_server.chat_model()), from_step=1)
    script_three_steps(openai_server)
    threaded, _ = record(tape, agent(openai_server.chat_model(), checkpointer=InMemorySaver()))
    with pytest.raises(NotReplayableError, match="checkpointer"):
        tape.replay(threaded, app=agent(openai_server.chat_model()), from_step=1)
    with pytest.raises(ValueError, match="step number"):
        tape.replay(threaded, app=agent(openai_server.chat_model()), from_step=-1)


def test_an_async_graph_resumes_at_a_step(tape, openai_server):
    script_three_steps(openai_server)
    app = agent(openai_server.chat_model(), aio=True, checkpointer=InMemorySaver())
    config = {**THREAD, "callbacks": [tape.langchain()]}
    recorded = asyncio.run(app.ainvoke(QUESTION, config=config))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = asyncio.run(tape.areplay(trace_id, app=app, from_step=2))

    assert shape(replay.output) == shape(recorded)
    assert (replay.from_tape, replay.ran_live) == (5, 0)
    assert openai_server.request_count == 3


def test_from_step_is_refused_for_a_llamaindex_app(tape):
    """LlamaIndex keeps no LangGraph checkpoints: from_step says so before anything runs."""
    from tests.fakes import llamaindex as fakes

    llm = fakes.CountingLLM()
    embed = fakes.CountingEmbedding(embed_dim=fakes.DIMENSIONS)
    engine = fakes.index(embed).as_query_engine(llm=llm, similarity_top_k=2)
    with fakes.attached(tape.recorder):
        engine.query("How long do cats sleep?")
        tape.flush()
        trace_id = str(tape.traces().trace_id[0])

        with pytest.raises(NotReplayableError, match="LlamaIndex") as caught:
            tape.replay(trace_id, app=engine, from_step=1)
        with pytest.raises(NotReplayableError, match="LlamaIndex"):
            asyncio.run(tape.areplay(trace_id, app=engine, from_step=1))

    assert "RetrieverQueryEngine" in str(caught.value) and "without from_step" in str(caught.value)
    assert (llm.calls, embed.queries) == (1, 1)
    assert len(tape.traces()) == 1  # no replay was recorded


def checkpoints_of(app: Any, config: Any = THREAD) -> tuple[str, int]:
    """The head checkpoint id of a thread and how many checkpoints it holds."""
    head = app.get_state(config).config["configurable"]["checkpoint_id"]
    return head, len(list(app.get_state_history(config)))


def replay_thread(tape: Any, trace_id: str) -> str:
    """The one LangGraph thread a trace's spans ran on."""
    frame = tape.sql(
        "select distinct attributes->>'tracetape.langgraph.thread_id' as thread from spans "
        "where trace_id = ? and attributes->>'tracetape.langgraph.thread_id' is not null",
        [trace_id],
    )
    assert len(frame) == 1
    return str(frame.thread[0])


def next_turn(app: Any, server: Any, recorded: Any, head: tuple[str, int]) -> None:
    """A real invoke on the user's thread goes on from the user's own last checkpoint."""
    server.script(Reply(content="You are welcome."))
    out = app.invoke({"messages": [("user", "thanks")]}, THREAD)
    assert shape(out)[:-2] == shape(recorded)
    assert [m.content for m in out["messages"][-2:]] == ["thanks", "You are welcome."]
    history = list(app.get_state_history(THREAD))
    assert len(history) == head[1] + 3  # input, __start__, model
    assert history[2].parent_config["configurable"]["checkpoint_id"] == head[0]


def test_a_replay_from_a_step_leaves_the_user_s_thread_alone(tape, openai_server):
    script_three_steps(openai_server)
    app = agent(openai_server.chat_model(), checkpointer=InMemorySaver())
    trace_id, recorded = record(tape, app)
    before = checkpoints_of(app)

    replay = tape.replay(trace_id, app=app, from_step=2)

    assert shape(replay.output) == shape(recorded)
    assert (replay.from_tape, replay.ran_live, openai_server.request_count) == (5, 0, 3)
    assert checkpoints_of(app) == before
    # The replay ran on a thread of its own, which its trace names and the graph holds.
    thread = replay_thread(tape, replay.trace_id)
    assert thread.startswith("tracetape-replay-")
    assert replay_thread(tape, trace_id) == "support-42"
    own = app.get_state({"configurable": {"thread_id": thread}})
    assert shape(own.values) == shape(recorded)
    next_turn(app, openai_server, recorded, before)
    assert openai_server.request_count == 4


def test_a_whole_replay_of_a_second_run_leaves_the_user_s_thread_alone(tape, openai_server):
    app = agent(openai_server.chat_model(), checkpointer=InMemorySaver())
    script_three_steps(openai_server)
    record(tape, app)
    openai_server.script(Reply(content="You are welcome."))
    second, recorded = record(tape, app)
    before = checkpoints_of(app)

    replay = tape.replay(second, app=app)

    assert (replay.from_tape, replay.same_output) == (1, True)
    assert shape(replay.output) == shape(recorded)
    assert checkpoints_of(app) == before
    assert replay_thread(tape, replay.trace_id).startswith("tracetape-replay-")
    next_turn(app, openai_server, recorded, before)
    assert openai_server.request_count == 5


def test_an_async_replay_leaves_the_user_s_thread_alone(tape, openai_server):
    app = agent(openai_server.chat_model(), aio=True, checkpointer=InMemorySaver())
    callbacks = {**THREAD, "callbacks": [tape.langchain()]}
    script_three_steps(openai_server)
    asyncio.run(app.ainvoke(QUESTION, config=callbacks))
    openai_server.script(Reply(content="You are welcome."))
    recorded = asyncio.run(app.ainvoke({"messages": [("user", "thanks")]}, config=callbacks))
    tape.flush()
    first, second = reversed([str(t) for t in tape.traces().trace_id[:2]])
    before = checkpoints_of(app)

    stepped = asyncio.run(tape.areplay(first, app=app, from_step=2))
    whole = asyncio.run(tape.areplay(second, app=app))

    assert (stepped.from_tape, whole.from_tape, whole.same_output) == (5, 1, True)
    assert checkpoints_of(app) == before
    tape.flush()
    threads = {replay_thread(tape, r.trace_id) for r in (stepped, whole)}
    assert len(threads) == 2 and all(t.startswith("tracetape-replay-") for t in threads)
    assert openai_server.request_count == 4
    openai_server.script(Reply(content="Bye."))
    out = asyncio.run(app.ainvoke({"messages": [("user", "bye")]}, THREAD))
    assert shape(out)[:-2] == shape(recorded)
    assert checkpoints_of(app)[1] == before[1] + 3


class Draft(TypedDict, total=False):
    question: str
    draft: str
    approved: str
    final: str


def review_graph(saver: Any) -> Any:
    """Write a draft, wait at an interrupt for its approval, then send it."""
    model = FakeListChatModel(responses=["Refunds take 5 days.", "Sent."])

    def write(state: Draft) -> Draft:
        return {"draft": str(model.invoke(state["question"]).content)}

    def review(state: Draft) -> Draft:
        return {"approved": interrupt({"draft": state["draft"]})}

    def send(state: Draft) -> Draft:
        return {"final": str(model.invoke(f"send {state['draft']}").content)}

    graph = StateGraph(Draft)
    graph.add_node("write", write)
    graph.add_node("review", review)
    graph.add_node("send", send)
    graph.add_edge(START, "write")
    graph.add_edge("write", "review")
    graph.add_edge("review", "send")
    graph.add_edge("send", END)
    return graph.compile(checkpointer=saver)


DRAFT_QUESTION = {"question": "How long do refunds take?"}


def test_a_run_paused_at_an_interrupt_replays_to_the_same_output(tape):
    config = {**THREAD, "callbacks": [tape.langchain()]}
    recorded = review_graph(InMemorySaver()).invoke(DRAFT_QUESTION, config=config)
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    assert "__interrupt__" in recorded

    replay = tape.replay(trace_id, app=review_graph(InMemorySaver()))

    # Each run's pending interrupt has an id of its own; the rest is the same.
    assert replay.output["draft"] == recorded["draft"]
    assert replay.same_output is True and replay.divergences == []


def test_a_run_resumed_from_an_interrupt_replays_from_its_thread(tape):
    saver = InMemorySaver()
    config = {**THREAD, "callbacks": [tape.langchain()]}
    review_graph(saver).invoke(DRAFT_QUESTION, config=config)
    resumed = review_graph(saver).invoke(Command(resume="yes"), config=config)
    tape.flush()
    trace_id = str(tape.sql("SELECT trace_id FROM traces ORDER BY start_time").trace_id.iloc[-1])

    replay = tape.replay(trace_id, app=review_graph(saver))

    assert replay.output["final"] == resumed["final"] and replay.output["approved"] == "yes"
    assert replay.same_output and replay.divergences == []
    with pytest.raises(CheckpointNotFoundError, match="resumed thread 'support-42'"):
        tape.replay(trace_id, app=review_graph(InMemorySaver()))
