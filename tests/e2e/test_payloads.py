"""What replay needs is kept whole, once per distinct content; tool schemas recorded."""

from __future__ import annotations

import asyncio
import itertools
import json
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph

from tests.fakes.models import ToolCallingFakeModel, call, script


@tool
def echo(text: str, times: int = 1) -> str:
    """Repeat a text."""
    return text * times


def long_conversation(turns: int) -> ToolCallingFakeModel:
    messages = [
        AIMessage(content="", tool_calls=[call("echo", {"text": f"step {i} " * 50}, f"e{i}")])
        for i in range(turns)
    ]
    return ToolCallingFakeModel(messages=script(*messages, AIMessage(content="done")))


def agent(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, [echo])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_long_conversation_stores_each_message_once(tape):
    turns = 12
    agent(long_conversation(turns)).invoke(
        {"messages": [("user", "go")]}, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    llm = tape.sql(
        "select attributes->'tracetape.replay.input' as request, "
        "attributes->'tracetape.replay.output' as response from spans where kind = 'llm' "
        "order by start_time"
    )
    requests = [json.loads(r) for r in llm.request]
    assert len(requests) == turns + 1
    # The request of call i is the whole history: 1 + 2 * i messages, by hash.
    assert [len(r) for r in requests] == [1 + 2 * i for i in range(turns + 1)]
    # Each call's history extends the previous one's: hashes are stable per message.
    for before, after in itertools.pairwise(requests):
        assert after[: len(before)] == before
    referenced = {h for r in requests for h in r}
    blobs = tape.sql("select hash, content, size from blobs")
    assert referenced <= set(blobs.hash)
    # Stored once: total payload bytes grow with the number of messages, not its square.
    message_bytes = blobs[blobs.hash.isin(referenced)]["size"].sum()
    history_bytes = sum(blobs.set_index("hash").loc[list(r), "size"].sum() for r in requests)
    assert message_bytes * 3 < history_bytes
    # Payloads are LangChain's serialised form, ready for langchain_core.load.
    from langchain_core.load import load

    first = json.loads(blobs.set_index("hash").loc[requests[0][0], "content"])
    assert first["lc"] == 1 and first["id"][-1] == "HumanMessage"
    assert load(first, allowed_objects="all").content == "go"
    response = json.loads(llm.response[0])
    restored = load(
        json.loads(blobs.set_index("hash").loc[response[0], "content"]), allowed_objects="all"
    )
    assert restored.tool_calls[0]["id"] == "e0"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tool_spans_record_their_argument_schema(tape):
    agent(long_conversation(1)).invoke(
        {"messages": [("user", "go")]}, config={"callbacks": [tape.langchain()]}
    )
    tape.flush()
    schema = json.loads(
        tape.sql(
            "select attributes->'tracetape.tool.args_schema' as s from spans where kind = 'tool'"
        ).s[0]
    )
    assert schema["properties"]["text"]["type"] == "string"
    assert schema["properties"]["times"]["default"] == 1
    assert schema["required"] == ["text"]


def test_model_calls_in_tasks_and_thread_pools_stay_in_the_trace(tape):
    """USERS.md 2: asyncio.create_task and thread pools must not orphan model calls."""

    def model() -> ToolCallingFakeModel:
        return ToolCallingFakeModel(messages=script(AIMessage(content="ok")))

    async def fan_out(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        tasks = [asyncio.create_task(model().ainvoke("hi")) for _ in range(3)]
        await asyncio.gather(*tasks)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=2) as pool:
            # contextvars are not copied into pool threads by default; LangChain's
            # config must be passed explicitly there, as LangChain documents.
            await asyncio.gather(
                *(loop.run_in_executor(pool, model().invoke, "hi", config) for _ in range(2))
            )
        return {"messages": [AIMessage(content="fanned out")]}

    builder = StateGraph(MessagesState)
    builder.add_node("fan_out", fan_out)
    builder.add_edge(START, "fan_out")
    builder.add_edge("fan_out", END)
    graph = builder.compile(name="fan")
    asyncio.run(graph.ainvoke({"messages": []}, config={"callbacks": [tape.langchain()]}))
    tape.flush()
    assert len(tape.traces()) == 1
    rows = tape.sql(
        "select p.name as parent from spans c join spans p on c.parent_span_id = p.span_id "
        "where c.kind = 'llm'"
    )
    assert list(rows.parent) == ["fan_out"] * 5
