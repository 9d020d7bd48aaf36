"""Replay through the public surface: real graphs, a real ChatOpenAI over loopback HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command
from pydantic import BaseModel

import tracetape
from tests.fakes.models import ToolCallingFakeModel, call, script
from tests.fakes.openai_server import Reply, ToolCall
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.errors import NotFoundError
from tracetape.replay import NotReplayableError, Replay, ReplayDivergence
from tracetape.spans.recorder import current_capture_span

SIDE_EFFECTS: list[str] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    SIDE_EFFECTS.append(f"add {a} {b}")
    return a + b


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    SIDE_EFFECTS.append(f"shout {text}")
    return text.upper()


def agent(
    model: Any,
    system: str = "You are a careful calculator.",
    *,
    aio: bool = False,
    checkpointer: Any = None,
) -> Any:
    """A two-node tool-calling agent: a prompt template, the model, a ToolNode."""
    prompt = ChatPromptTemplate.from_messages([("system", system), MessagesPlaceholder("messages")])
    chain = prompt | model.bind_tools([add, shout])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [chain.invoke(state)]}

    async def acall_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await chain.ainvoke(state)]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", acall_model if aio else call_model)
    builder.add_node("tools", ToolNode([add, shout]))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    return builder.compile(name="calculator", checkpointer=checkpointer)


def script_three_steps(server: Any) -> None:
    """Two tool rounds (the first with parallel calls), then the answer."""
    server.script(
        Reply(
            tool_calls=(
                ToolCall("add", {"a": 1, "b": 2}, "call_add"),
                ToolCall("shout", {"text": "three"}, "call_shout"),
            )
        ),
        Reply(tool_calls=(ToolCall("add", {"a": 3, "b": 4}, "call_add2"),)),
        Reply(content="3, THREE and 7"),
    )


QUESTION = {"messages": [("user", "add 1 and 2, shout three, then add 3 and 4")]}


def shape(output: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """The messages of a state without the random ids LangGraph gives new messages."""
    messages: list[BaseMessage] = output["messages"]
    return [
        (m.type, m.content, getattr(m, "tool_calls", None), getattr(m, "tool_call_id", None))
        for m in messages
    ]


def record(tape: Any, server: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    script_three_steps(server)
    out = agent(server.chat_model(), **kwargs).invoke(
        QUESTION, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    return trace_id, out


def test_playback_answers_every_call_from_the_tape(tape, openai_server):
    trace_id, recorded = record(tape, openai_server)
    assert openai_server.request_count == 3
    SIDE_EFFECTS.clear()

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model()))

    assert isinstance(replay, Replay)
    assert openai_server.request_count == 3  # no request during the replay
    assert SIDE_EFFECTS == []  # no tool ran
    assert shape(replay.output) == shape(recorded)
    assert replay.divergences == []
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (6, 0, True)
    tape.flush()
    row = tape.sql(
        "select replay_of, n_llm, n_tool from traces where trace_id = ?", [replay.trace_id]
    )
    assert row.to_dict("records") == [{"replay_of": trace_id, "n_llm": 3, "n_tool": 3}]
    original = tape.sql("select replay_of from traces where trace_id = ?", [trace_id])
    assert original.replay_of.isna().all()


def test_playback_contacts_no_provider(tmp_path, openai_server):
    import tracetape

    tape = tracetape.open(tmp_path / "t.duckdb")
    try:
        trace_id, recorded = record(tape, openai_server)
        before = openai_server.request_count
        replay = tape.replay(trace_id, app=agent(openai_server.chat_model()))
        assert openai_server.request_count - before == 0
        assert shape(replay.output) == shape(recorded)
    finally:
        tape.close()


def test_a_changed_prompt_diverges_at_the_first_model_call(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    changed = agent(openai_server.chat_model(), system="You are a sloppy calculator.")

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=changed)

    divergence = caught.value.divergence
    first_llm = tape.sql(
        "select span_id, name from spans where trace_id = ? and kind = 'llm' "
        "order by start_time limit 1",
        [trace_id],
    ).iloc[0]
    assert (divergence.kind, divergence.position) == ("llm", 0)
    assert (divergence.span_id, divergence.name) == (first_llm.span_id, first_llm["name"])
    assert "-system: You are a careful calculator." in divergence.diff
    assert "+system: You are a sloppy calculator." in divergence.diff
    assert "sloppy" in str(caught.value)
    assert caught.value.replay is not None and caught.value.replay.replay_of == trace_id
    assert openai_server.request_count == 3


def test_live_model_with_pinned_tools_sends_the_new_prompt(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    script_three_steps(openai_server)
    SIDE_EFFECTS.clear()
    changed = agent(openai_server.chat_model(), system="You are a terse calculator.")

    replay = tape.replay(trace_id, app=changed, live=("llm",))

    assert openai_server.request_count == 6
    sent = openai_server.requests[3]["messages"][0]
    assert sent == {"role": "system", "content": "You are a terse calculator."}
    assert SIDE_EFFECTS == []  # tools answered from the tape
    assert replay.output["messages"][-1].content == "3, THREE and 7"
    assert (replay.from_tape, replay.ran_live) == (3, 3)
    assert replay.same_output is True  # the same answers, live
    tape.flush()
    recorded = tape.sql(
        "select attributes->>'gen_ai.input.messages' as m from spans "
        "where trace_id = ? and kind = 'llm' order by start_time limit 1",
        [replay.trace_id],
    ).m[0]
    assert "terse" in recorded


def test_a_named_tool_runs_for_real(tape, openai_server):
    trace_id, recorded = record(tape, openai_server)
    SIDE_EFFECTS.clear()

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model()), live=("shout",))

    assert SIDE_EFFECTS == ["shout three"]
    assert shape(replay.output) == shape(recorded)
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (5, 1, True)
    assert openai_server.request_count == 3


def test_each_input_of_a_batch_is_a_trace_of_its_own_and_replays(tape):
    from langchain_core.language_models import FakeListChatModel

    def app() -> Any:
        prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
        return prompt | FakeListChatModel(responses=["one", "two", "three"])

    # Batch starts every input's root run before any of them runs.
    outputs = app().batch(
        [{"q": f"question {i}"} for i in range(3)], config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    assert current_capture_span.get() is None  # as before the batch, whatever ended last

    traces = tape.sql("SELECT trace_id, n_llm FROM traces")
    assert len(traces) == 3 and set(traces.n_llm) == {1}
    assert tape.sql("SELECT count(*) AS n FROM spans WHERE parent_span_id IS NULL").n[0] == 3
    replayed = [tape.replay(str(t), app=app()) for t in traces.trace_id]
    assert all(r.same_output and r.divergences == [] for r in replayed)
    assert sorted(r.output.content for r in replayed) == sorted(o.content for o in outputs)


def test_what_a_stream_loop_records_nests_under_the_streamed_run(tape):
    from langchain_core.language_models import FakeListChatModel

    config = {"callbacks": [tape.langchain()]}
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | FakeListChatModel(
        responses=["a"]
    )
    for _ in chain.stream({"q": "x"}, config):
        with tracetape.span("before"):
            pass
        FakeListChatModel(responses=["b"]).invoke("in the loop", config)
        with tracetape.span("after"):
            pass
    tape.flush()

    parents = tape.sql(
        "SELECT c.name, p.name AS parent FROM spans c JOIN spans p "
        "ON c.parent_span_id = p.span_id WHERE c.name IN ('before', 'after')"
    )
    assert dict(zip(parents.name, parents.parent, strict=True)) == {
        "before": "RunnableSequence",
        "after": "RunnableSequence",
    }
    assert current_capture_span.get() is None


def test_a_tool_returning_a_command_updates_the_state_again_on_replay(tape):
    called: list[str] = []

    class State(MessagesState):
        user: str

    @tool
    def remember(name: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
        """Remember the user's name."""
        called.append(name)
        saved = ToolMessage(f"saved {name}", tool_call_id=tool_call_id)
        return Command(update={"user": name, "messages": [saved]})

    def app() -> Any:
        model = ToolCallingFakeModel(
            messages=script(
                AIMessage(content="", tool_calls=[call("remember", {"name": "Ada"}, "c1")]),
                AIMessage(content="Hi Ada."),
            )
        ).bind_tools([remember])
        graph = StateGraph(State)
        graph.add_node("model", lambda s: {"messages": [model.invoke(s["messages"])]})
        graph.add_node("tools", ToolNode([remember]))
        graph.add_edge(START, "model")
        graph.add_conditional_edges("model", tools_condition)
        graph.add_edge("tools", "model")
        return graph.compile()

    start = {"messages": [HumanMessage("I'm Ada")], "user": ""}
    recorded = app().invoke(start, config={"callbacks": [tape.langchain()]})
    tape.flush()
    called.clear()

    replay = tape.replay(str(tape.traces().trace_id[0]), app=app())

    assert called == []  # answered from the tape
    assert replay.output["user"] == recorded["user"] == "Ada"
    assert replay.same_output and replay.divergences == []
    assert [m.content for m in replay.output["messages"] if m.type == "tool"] == ["saved Ada"]


def test_a_replay_says_where_the_recorded_input_had_a_secret_redacted(tape, caplog):
    from langchain_core.language_models import FakeListChatModel

    def app() -> Any:
        prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
        return prompt | FakeListChatModel(responses=["Five days."])

    question = {"question": "How long do refunds take?", "customer_token": "cust-4711"}
    app().invoke(question, config={"callbacks": [tape.langchain()]})
    tape.flush()

    replay = tape.replay(str(tape.traces().trace_id[0]), app=app())

    assert replay.same_output  # the token was not used
    assert "had a secret redacted at customer_token" in caplog.text


def test_a_call_too_big_to_keep_replays_when_it_runs_for_real(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACETAPE_MAX_BLOB_BYTES", "2048")
    pages: list[str] = []

    @tool
    def fetch(url: str) -> str:
        """Fetch a page."""
        pages.append(url)
        return "x" * 5000  # over the cap: its result is not kept

    app = RunnableLambda(lambda url: len(fetch.invoke({"url": url})), name="size")
    tape = tracetape.open(tmp_path / "tape.duckdb")
    try:
        app.invoke("https://example.test", config={"callbacks": [tape.langchain()]})
        tape.flush()
        trace_id = str(tape.traces().trace_id[0])

        with pytest.raises(NotReplayableError, match=r"live=\('fetch',\)"):
            tape.replay(trace_id, app=app)
        replay = tape.replay(trace_id, app=app, live=("fetch",))

        assert replay.output == 5000 and pages == ["https://example.test"] * 2
    finally:
        tape.close()


def test_a_unique_prefix_of_the_trace_id_replays_it(tape, openai_server):
    trace_id, recorded = record(tape, openai_server)

    replay = tape.replay(trace_id[:8].upper(), app=agent(openai_server.chat_model()))

    assert replay.same_output and shape(replay.output) == shape(recorded)
    with pytest.raises(NotFoundError, match="no trace 'ffffffff'"):
        tape.replay("ffffffff", app=agent(openai_server.chat_model()))


def test_a_live_name_no_call_used_is_logged(tape, openai_server, caplog):
    trace_id, _ = record(tape, openai_server)
    SIDE_EFFECTS.clear()

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model()), live=("shoutt",))

    assert SIDE_EFFECTS == []  # the misspelt tool was answered from the tape
    assert replay.same_output
    assert "live= named 'shoutt', which is neither a kind" in caplog.text
    caplog.clear()
    tape.replay(trace_id, app=agent(openai_server.chat_model()), live=("shout", "retriever"))
    assert "live= named" not in caplog.text  # a tool it called and a kind


def test_on_divergence_live_goes_live_for_the_rest(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    script_three_steps(openai_server)
    changed = agent(openai_server.chat_model(), system="Be brief.")

    replay = tape.replay(trace_id, app=changed, on_divergence="live")

    assert [d.position for d in replay.divergences] == [0]
    assert openai_server.request_count == 6
    assert replay.output["messages"][-1].content == "3, THREE and 7"


def test_an_async_graph_replays(tape, openai_server):
    script_three_steps(openai_server)
    app = agent(openai_server.chat_model(), aio=True)
    recorded = asyncio.run(app.ainvoke(QUESTION, config={"callbacks": [tape.langchain()]}))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = asyncio.run(tape.areplay(trace_id, app=agent(openai_server.chat_model(), aio=True)))

    assert openai_server.request_count == 3
    assert shape(replay.output) == shape(recorded)
    assert replay.divergences == []


def test_playback_is_the_same_every_time(tape, openai_server):
    trace_id, recorded = record(tape, openai_server)
    app = agent(openai_server.chat_model())

    outputs = {repr(shape(tape.replay(trace_id, app=app).output)) for _ in range(100)}

    assert outputs == {repr(shape(recorded))}
    assert openai_server.request_count == 3


def test_a_trace_of_an_older_graph_fails_with_a_clear_divergence(tape, openai_server):
    """The recording's graph had one more tool; the new one only knows ``add``."""
    trace_id, _ = record(tape, openai_server)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a careful calculator."), MessagesPlaceholder("messages")]
    )
    chain = prompt | openai_server.chat_model().bind_tools([add])
    builder = StateGraph(MessagesState)
    builder.add_node("model", lambda state: {"messages": [chain.invoke(state)]})
    builder.add_node("tools", ToolNode([add]))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    newer = builder.compile(name="calculator")

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=newer)

    divergence = caught.value.divergence
    assert (divergence.kind, divergence.position) == ("llm", 0)
    assert "-[tools] add, shout" in divergence.diff
    assert "+[tools] add" in divergence.diff
    assert openai_server.request_count == 3


def test_a_graph_that_ends_early_reports_the_calls_it_skipped(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a careful calculator."), MessagesPlaceholder("messages")]
    )
    chain = prompt | openai_server.chat_model().bind_tools([add, shout])
    builder = StateGraph(MessagesState)
    builder.add_node("model", lambda state: {"messages": [chain.invoke(state)]})
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    one_step = builder.compile(name="calculator")

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=one_step)

    assert caught.value.divergence.kind in ("llm", "tool")
    assert "without making" in caught.value.divergence.reason
    assert caught.value.replay.output is not None


def test_an_instrumented_process_records_the_replay_once(tape, openai_server):
    import tracetape

    trace_id, _ = record(tape, openai_server)
    tracetape.instrument(tape)

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model()))

    tape.flush()
    traces = tape.sql("select trace_id, n_spans, replay_of from traces")
    assert len(traces) == 2
    spans = dict(zip(traces.trace_id, traces.n_spans, strict=True))
    assert spans[replay.trace_id] == spans[trace_id]


def test_a_streaming_model_is_played_back(tape, openai_server):
    script_three_steps(openai_server)
    recorded = agent(openai_server.chat_model(streaming=True)).invoke(
        QUESTION, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model(streaming=True)))

    assert shape(replay.output) == shape(recorded)
    assert openai_server.request_count == 3


def test_a_tool_that_failed_fails_again_the_same_way(tape, openai_server):
    calls: list[str] = []

    @tool
    def divide(a: int, b: int) -> float:
        """Divide two integers."""
        calls.append(f"{a}/{b}")
        raise ValueError("cannot divide by zero")

    def build() -> Any:
        chain = openai_server.chat_model().bind_tools([divide])
        builder = StateGraph(MessagesState)
        builder.add_node("model", lambda state: {"messages": [chain.invoke(state["messages"])]})
        builder.add_node("tools", ToolNode([divide], handle_tool_errors=True))
        builder.add_edge(START, "model")
        builder.add_conditional_edges("model", tools_condition)
        builder.add_edge("tools", "model")
        return builder.compile()

    openai_server.script(
        Reply(tool_calls=(ToolCall("divide", {"a": 1, "b": 0}, "call_div"),)),
        Reply(content="Division by zero is undefined."),
    )
    recorded = build().invoke(
        {"messages": [("user", "1/0?")]}, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    calls.clear()

    replay = tape.replay(trace_id, app=build())

    assert calls == []
    assert shape(replay.output) == shape(recorded)
    assert "cannot divide by zero" in replay.output["messages"][2].content
    assert openai_server.request_count == 2


def test_a_structured_output_is_played_back(tape, openai_server):
    class Verdict(BaseModel):
        correct: bool
        reason: str

    def build() -> Any:
        prompt = ChatPromptTemplate.from_messages([("system", "Judge."), ("human", "{claim}")])
        return prompt | openai_server.chat_model().with_structured_output(Verdict)

    openai_server.script(Reply(content='{"correct": true, "reason": "2 + 2 = 4"}'))
    recorded = build().invoke({"claim": "2 + 2 = 4"}, config={"callbacks": [tape.langchain()]})
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = tape.replay(trace_id, app=build())

    assert replay.output == recorded == Verdict(correct=True, reason="2 + 2 = 4")
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (1, 0, True)
    assert openai_server.request_count == 1


# -- recorded calls a re-run never made ---------------------------------------------------


def test_a_counterfactual_lists_the_calls_it_no_longer_made_and_returns(tape, openai_server):
    """With the model live the re-run may take another path: the recorded tool calls it
    left out are divergences on the result, not an exception after the answer."""
    trace_id, _ = record(tape, openai_server)
    openai_server.script(
        Reply(tool_calls=(ToolCall("add", {"a": 1, "b": 2}, "call_add"),)),
        Reply(content="3"),
    )
    SIDE_EFFECTS.clear()

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model()), live=("llm",))

    assert replay.output["messages"][-1].content == "3"
    assert SIDE_EFFECTS == []  # add came from the tape; nothing unrecorded ran
    assert (replay.from_tape, replay.ran_live, replay.same_output) == (1, 2, False)
    (left_out,) = replay.divergences
    shout_span = tape.sql(
        "select span_id from spans where trace_id = ? and tool_name = 'shout'", [trace_id]
    ).span_id[0]
    assert (left_out.kind, left_out.name, left_out.span_id) == ("tool", "shout", shout_span)
    assert left_out.reason == "the re-run ended without making 2 recorded tool call(s): shout, add"


def test_an_async_counterfactual_lists_the_calls_it_no_longer_made(tape, openai_server):
    script_three_steps(openai_server)
    app = agent(openai_server.chat_model(), aio=True)
    asyncio.run(app.ainvoke(QUESTION, config={"callbacks": [tape.langchain()]}))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    openai_server.script(Reply(content="I cannot add."))

    replay = asyncio.run(tape.areplay(trace_id, app=app, live=("llm",)))

    assert replay.output["messages"][-1].content == "I cannot add."
    assert [d.kind for d in replay.divergences] == ["tool"]
    assert "without making 3 recorded tool call(s): " in str(replay.divergences[0])


def test_a_pinned_model_with_a_live_tool_still_stops_when_the_app_ends_early(tape, openai_server):
    """Every model answer came from the tape: a path that ends early means the app changed,
    whatever tool ran for real."""
    trace_id, _ = record(tape, openai_server)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a careful calculator."), MessagesPlaceholder("messages")]
    )
    chain = prompt | openai_server.chat_model().bind_tools([add, shout])
    builder = StateGraph(MessagesState)
    builder.add_node("model", lambda state: {"messages": [chain.invoke(state)]})
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    one_step = builder.compile(name="calculator")

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=one_step, live=("shout",))

    assert "without making" in caught.value.divergence.reason
    assert caught.value.replay.output is not None
    assert [d.kind for d in caught.value.replay.divergences] == ["llm", "tool"]
    # With on_divergence="live" the same replay returns, the calls listed.
    replay = tape.replay(trace_id, app=one_step, live=("shout",), on_divergence="live")
    assert [d.kind for d in replay.divergences] == ["llm", "tool"]
    assert openai_server.request_count == 3


# -- the replay's trace is on the tape when replay returns ---------------------------------


def test_a_replay_is_on_the_tape_when_it_returns(tape, openai_server):
    trace_id, _ = record(tape, openai_server)

    replay = tape.replay(trace_id, app=agent(openai_server.chat_model()))

    # no tape.flush(): replay flushed its own recording
    assert replay.trace_id in set(tape.traces().trace_id)
    row = tape.sql("select replay_of, n_llm from traces where trace_id = ?", [replay.trace_id])
    assert row.to_dict("records") == [{"replay_of": trace_id, "n_llm": 3}]
    assert tape.diff(trace_id, replay.trace_id).causes == []


def test_a_replay_that_stopped_is_on_the_tape_when_it_raises(tape, openai_server):
    trace_id, _ = record(tape, openai_server)

    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=agent(openai_server.chat_model(), system="Be sloppy."))

    assert caught.value.replay.trace_id in set(tape.traces().trace_id)


def test_a_node_that_failed_on_its_own_prompt_edit_is_explained_by_it(tape, openai_server):
    trace_id, _ = record(tape, openai_server)
    with pytest.raises(ReplayDivergence) as caught:
        tape.replay(trace_id, app=agent(openai_server.chat_model(), system="Be sloppy."))

    result = tape.diff(trace_id, caught.value.replay.trace_id)

    explained = [g for g in result.groups if g.causes]
    # One cause: the refused model call has no response, which is no model change.
    assert [type(c).__name__ for g in explained for c in g.causes] == ["PromptChange"]
    errors = [e for g in explained for e in g.effects if type(e).__name__ == "ErrorChange"]
    assert {"#1 node model", "#3 llm gpt-4o-2024-08-06 → gpt-4o"} <= {e.step for e in errors}
    assert not [g for g in result.groups if not g.causes and not g.environment], result.text()


def test_an_async_replay_is_on_the_tape_when_it_returns(tape, openai_server):
    script_three_steps(openai_server)
    app = agent(openai_server.chat_model(), aio=True)
    asyncio.run(app.ainvoke(QUESTION, config={"callbacks": [tape.langchain()]}))
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])

    replay = asyncio.run(tape.areplay(trace_id, app=app))

    assert replay.trace_id in set(tape.traces().trace_id)
