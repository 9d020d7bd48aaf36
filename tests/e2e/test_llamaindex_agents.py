"""LlamaIndex agents and workflows, and a chat engine, recorded into a real tape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool
from workflows import Context, Workflow, step
from workflows.events import Event, StartEvent, StopEvent

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import LlamaIndexRecorder


@pytest.fixture
def recording(tape: Any) -> Iterator[LlamaIndexRecorder]:
    fakes.offline_settings()
    with fakes.attached(tape.recorder) as pair:
        yield pair


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


# Building an agent, the workflows runtime reads every attribute of it, pydantic's
# deprecated ones included.
PYDANTIC_V1_NAMES = "ignore::pydantic.warnings.PydanticDeprecatedSince20"
PYDANTIC_INSTANCE_FIELDS = "ignore::pydantic.warnings.PydanticDeprecatedSince211"


async def run(flow: Any, *args: Any, **kwargs: Any) -> Any:
    """``Workflow.run`` starts its task at once, so it is called inside the loop."""
    return await flow.run(*args, **kwargs)


def memory() -> Any:
    """An in-process agent memory (the default opens an aiosqlite engine nobody closes)."""
    from llama_index.core.memory import ChatMemoryBuffer

    return ChatMemoryBuffer.from_defaults(token_limit=100_000, tokenizer_fn=str.split)


@pytest.mark.filterwarnings(PYDANTIC_V1_NAMES)
@pytest.mark.filterwarnings(PYDANTIC_INSTANCE_FIELDS)
def test_function_agent_with_two_tools(tape, recording):
    llm = fakes.ScriptedToolLLM(
        script=[
            [("add", {"a": 2, "b": 3}, "call-add"), ("multiply", {"a": 4, "b": 5}, "call-mul")],
            "5 and 20.",
        ]
    )
    agent = FunctionAgent(
        name="calculator",
        tools=[FunctionTool.from_defaults(add), FunctionTool.from_defaults(multiply)],
        llm=llm,
        streaming=False,
    )
    result = asyncio.run(run(agent, "Add 2 and 3, multiply 4 and 5.", memory=memory()))
    assert "20" in str(result)
    tape.flush()

    assert tape.sql("select count(distinct trace_id) from spans").iloc[0, 0] == 1
    root = tape.sql(
        "select span_id, kind, attributes->>'gen_ai.agent.name' as agent, "
        "attributes->>'tracetape.llamaindex.workflow' as workflow, output "
        "from spans where parent_span_id is null"
    ).iloc[0]
    assert (root["kind"], root["agent"], root["workflow"]) == (
        "agent",
        "calculator",
        "FunctionAgent",
    )
    assert "20" in root["output"]

    # Two model calls; the first asked for both tools, with their call ids.
    llms = tape.sql(
        "select parent_span_id, attributes->>'gen_ai.operation.name' as op, "
        "attributes->'gen_ai.output.messages' as out, "
        "attributes->'gen_ai.tool.definitions' as tools, "
        "(attributes->>'gen_ai.usage.input_tokens')::INT as tokens_in, "
        "(attributes->>'gen_ai.usage.output_tokens')::INT as tokens_out, "
        "attributes->>'gen_ai.request.model' as model "
        "from spans where kind = 'llm' order by start_time"
    )
    assert len(llms) == 2
    assert set(llms["op"]) == {"chat"}
    assert set(llms["model"]) == {"scripted-tool-llm"}
    assert (llms["tokens_in"].tolist(), llms["tokens_out"].tolist()) == ([11, 11], [7, 7])
    names = [t["function"]["name"] for t in json.loads(llms["tools"].iloc[0])]
    assert names == ["add", "multiply"]
    parts = json.loads(llms["out"].iloc[0])[0]["parts"]
    calls = [(p["name"], p["id"], p["arguments"]) for p in parts if p["type"] == "tool_call"]
    assert calls == [
        ("add", "call-add", {"a": 2, "b": 3}),
        ("multiply", "call-mul", {"a": 4, "b": 5}),
    ]

    # Each tool ran once, as a tool span with its call id, arguments and result,
    # under the workflow step that called it.
    tools = tape.sql(
        "select t.name, t.attributes->>'gen_ai.tool.name' as tool, "
        "t.attributes->>'gen_ai.tool.call.id' as call_id, "
        "t.attributes->'gen_ai.tool.call.arguments' as args, "
        "t.attributes->'gen_ai.tool.call.result' as result, "
        "t.attributes->>'gen_ai.tool.description' as description, "
        "p.kind as parent_kind, p.attributes->>'tracetape.llamaindex.step' as step "
        "from spans t join spans p on t.parent_span_id = p.span_id "
        "where t.kind = 'tool' order by t.attributes->>'gen_ai.tool.name'"
    )
    assert tools["tool"].tolist() == ["add", "multiply"]
    assert tools["call_id"].tolist() == ["call-add", "call-mul"]
    assert [json.loads(a) for a in tools["args"]] == [{"a": 2, "b": 3}, {"a": 4, "b": 5}]
    assert [json.loads(r) for r in tools["result"]] == [5, 20]
    assert tools["description"].iloc[0].endswith("Add two integers.")
    assert set(tools["parent_kind"]) == {"workflow"} and set(tools["step"]) == {"call_tool"}

    # Workflow steps are workflow spans; formatting messages is not a model call.
    steps = tape.sql(
        "select name, kind, attributes->>'tracetape.llamaindex.input_event' as input_event "
        "from spans where attributes->>'tracetape.llamaindex.step' is not null"
    )
    assert set(steps["kind"]) == {"workflow"}
    assert {"init_run", "setup_agent", "run_agent_step", "call_tool"} <= set(steps["name"])
    assert "ToolCall" in set(steps["input_event"])
    model_parents = tape.sql(
        "select p.name from spans c join spans p on c.parent_span_id = p.span_id "
        "where c.kind = 'llm'"
    )["name"].tolist()
    assert model_parents == ["run_agent_step", "run_agent_step"]


class Draft(Event):
    text: str


class Reviewed(Event):
    text: str
    approved: bool


class WritingFlow(Workflow):
    @step
    async def draft(self, ctx: Context, ev: StartEvent) -> Draft:
        return Draft(text=f"draft about {ev.topic}")

    @step
    async def review(self, ev: Draft) -> Reviewed:
        return Reviewed(text=ev.text.upper(), approved=True)

    @step
    async def publish(self, ev: Reviewed) -> StopEvent:
        return StopEvent(result={"text": ev.text, "approved": ev.approved})


def test_workflow_with_several_steps(tape, recording):
    result = asyncio.run(run(WritingFlow(timeout=10), topic="cats"))
    assert result == {"text": "DRAFT ABOUT CATS", "approved": True}
    tape.flush()
    root = tape.sql(
        "select span_id, kind, name, input, output from spans where parent_span_id is null"
    )
    assert len(root) == 1
    assert root["kind"].iloc[0] == "workflow"
    assert "cats" in root["input"].iloc[0]
    assert "DRAFT ABOUT CATS" in root["output"].iloc[0]
    steps = tape.sql(
        "select name, parent_span_id, input, output, "
        "attributes->>'tracetape.llamaindex.input_event' as ev_in, "
        "attributes->>'tracetape.llamaindex.output_event' as ev_out "
        "from spans where kind = 'workflow' and parent_span_id is not null order by start_time"
    )
    assert steps["name"].tolist() == ["draft", "review", "publish"]
    assert set(steps["parent_span_id"]) == {root["span_id"].iloc[0]}
    assert steps["ev_in"].tolist() == ["StartEvent", "Draft", "Reviewed"]
    assert steps["ev_out"].tolist() == ["Draft", "Reviewed", "StopEvent"]
    assert "draft about cats" in steps["output"].iloc[0]


def test_concurrent_workflows_are_separate_traces(tape, recording):
    async def main() -> list[Any]:
        flow = WritingFlow(timeout=10)
        return list(await asyncio.gather(*(flow.run(topic=t) for t in ("a", "b", "c"))))

    assert len(asyncio.run(main())) == 3
    tape.flush()
    per_trace = tape.sql(
        "select trace_id, count(*) n, count(*) filter (where parent_span_id is null) roots "
        "from spans group by trace_id"
    )
    assert len(per_trace) == 3
    assert set(per_trace["n"]) == {4} and set(per_trace["roots"]) == {1}


def test_chat_engine(tape, recording):
    index = fakes.index()  # built while recording: only the chat's trace is checked
    engine = index.as_chat_engine(
        chat_mode="context",
        llm=fakes.ScriptedToolLLM(script=["Cats nap."]),
        memory=memory(),
    )
    reply = engine.chat("How long do cats sleep?")
    assert str(reply) == "Cats nap."
    tape.flush()
    root = tape.sql("select * from spans where name = 'ContextChatEngine.chat'")
    assert len(root) == 1 and root["parent_span_id"].isna().all()
    assert root["kind"].iloc[0] == "chain"
    assert json.loads(root["output"].iloc[0])["response"] == "Cats nap."
    trace_id = root["trace_id"].iloc[0]
    kinds = set(tape.sql("select kind from spans where trace_id = ?", [trace_id])["kind"])
    assert {"chain", "retriever", "embedding", "llm"} <= kinds
    llm = tape.sql(
        "select attributes->'gen_ai.input.messages' as msgs, output from spans "
        "where kind = 'llm' and trace_id = ?",
        [trace_id],
    ).iloc[0]
    roles = [m["role"] for m in json.loads(llm["msgs"])]
    assert roles[-1] == "user" and "system" in roles
    # MockEmbedding gives every text the same vector, so which documents come back is
    # the store's choice; what came back is what the model saw.
    assert any(text in llm["msgs"] for text, _ in fakes.TEXTS.values())
    assert json.loads(llm["output"])[0]["parts"][0]["content"] == "Cats nap."


@pytest.mark.filterwarnings(PYDANTIC_V1_NAMES)
@pytest.mark.filterwarnings(PYDANTIC_INSTANCE_FIELDS)
# ReActAgent.take_step itself asks ``ctx.is_running``, which the workflows runtime deprecates.
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
def test_react_agent_in_an_agent_workflow(tape, recording):
    from llama_index.core.agent.workflow import AgentWorkflow, ReActAgent

    llm = fakes.ScriptedToolLLM(
        script=[
            'Thought: I need to add.\nAction: add\nAction Input: {"a": 2, "b": 3}',
            "Thought: I can answer without using any more tools.\nAnswer: 5",
        ]
    )
    agent = ReActAgent(
        name="reasoner",
        description="Adds numbers.",
        tools=[FunctionTool.from_defaults(add)],
        llm=llm,
        streaming=False,
    )
    flow = AgentWorkflow(agents=[agent], root_agent="reasoner")
    result = asyncio.run(run(flow, "Add 2 and 3.", memory=memory()))
    assert "5" in str(result)
    tape.flush()
    root = tape.sql(
        "select kind, attributes->>'tracetape.llamaindex.workflow' as workflow "
        "from spans where parent_span_id is null"
    )
    assert root.to_dict("records") == [{"kind": "agent", "workflow": "AgentWorkflow"}]
    tool = tape.sql(
        "select attributes->>'gen_ai.tool.name' as name, "
        "attributes->>'gen_ai.tool.call.id' as call_id, "
        "attributes->'gen_ai.tool.call.result' as result from spans where kind = 'tool'"
    ).iloc[0]
    assert (tool["name"], json.loads(tool["result"])) == ("add", 5)
    assert tool["call_id"]
    # ReAct formats its reasoning prompt in a step; only the two chat calls are models.
    assert tape.sql("select count(*) from spans where kind = 'llm'").iloc[0, 0] == 2
    prompts = tape.sql(
        "select attributes->'gen_ai.input.messages' as msgs from spans where kind = 'llm' "
        "order by start_time"
    )["msgs"].tolist()
    assert "Action Input" in prompts[1] and "Observation" in prompts[1]
