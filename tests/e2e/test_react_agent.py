"""A prebuilt ReAct agent with several tools, recorded into a real tape."""

from __future__ import annotations

import json
import warnings

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from tests.fakes.models import ToolCallingFakeModel, call, script


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def build_agent(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, [add, shout])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_react_agent_records_every_step(tape):
    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("add", {"a": 1, "b": 2}, "call_add")]),
            AIMessage(content="", tool_calls=[call("shout", {"text": "three"}, "call_shout")]),
            AIMessage(content="THREE"),
        )
    )
    agent = build_agent(model)
    out = agent.invoke(
        {"messages": [("user", "add 1 and 2, then shout it")]},
        config={"callbacks": [tape.langchain()], "tags": ["nightly"]},
    )
    assert out["messages"][-1].content == "THREE"
    assert tape.flush() > 0

    traces = tape.traces()
    assert len(traces) == 1
    row = traces.iloc[0]
    assert (row.n_llm, row.n_tool, row.n_errors) == (3, 2, 0)
    assert list(row.tags) == ["nightly"]

    kinds = tape.sql("select kind, count(*) n from spans group by kind").set_index("kind")["n"]
    assert kinds["graph"] == 1
    assert kinds["node"] == 5  # agent, tools, agent, tools, agent

    tools = tape.sql(
        "select tool_name, attributes->>'gen_ai.tool.call.id' as call_id, input, output, "
        "attributes->>'gen_ai.tool.description' as description, status "
        "from spans where kind = 'tool' order by start_time"
    )
    assert list(tools.tool_name) == ["add", "shout"]
    assert list(tools.call_id) == ["call_add", "call_shout"]
    assert json.loads(tools.input[0]) == {"a": 1, "b": 2}
    assert json.loads(tools.output[0]) == "3"
    assert tools.description[0] == "Add two integers."
    assert set(tools.status) == {"ok"}

    # The model's requested tool call joins the tool execution by id.
    joined = tape.sql(
        "with calls as (select unnest(from_json(output, '[\"json\"]')) m from spans "
        "where kind = 'llm') select count(*) from calls, spans t "
        "where t.kind = 'tool' and contains(m::varchar, t.attributes->>'gen_ai.tool.call.id')"
    ).iloc[0, 0]
    assert joined == 2

    # Every node hangs under the graph span; every llm under a node.
    parents = tape.sql(
        "select c.kind, p.kind as parent_kind from spans c join spans p "
        "on c.parent_span_id = p.span_id where c.kind in ('node', 'tool')"
    )
    assert set(parents[parents.kind == "node"].parent_kind) == {"graph"}
    assert set(parents[parents.kind == "tool"].parent_kind) == {"node"}
