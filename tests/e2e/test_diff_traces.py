"""``tape.diff`` of two traces recorded in one process: agent steps aligned, tool
argument diffs, steps only one side took, model params, ids, and the HTML view."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from tests.fakes import diff_app
from tests.fakes.models import ToolCallingFakeModel, call, script
from tracetape.diff import (
    FieldChange,
    ModelChange,
    OutputChange,
    PromptChange,
    StepChange,
    ToolArgsChange,
)
from tracetape.errors import DiffError, NotFoundError
from tracetape.tape import Tape


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _agent(*messages: AIMessage) -> Any:
    model = ToolCallingFakeModel(messages=script(*messages))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, [add])


def _traces(tape: Tape, *agents: Any) -> list[str]:
    """Run each agent once; the trace ids in the order they ran."""
    for agent in agents:
        agent.invoke(
            {"messages": [("user", "add 1 and 2")]}, config={"callbacks": [tape.langchain()]}
        )
    tape.flush()
    return tape.sql("SELECT trace_id FROM traces ORDER BY start_time").trace_id.tolist()


def test_tool_arguments_and_steps_only_one_side_took(tape: Tape) -> None:
    first = _agent(
        AIMessage(content="", tool_calls=[call("add", {"a": 1, "b": 2}, "call_1")]),
        AIMessage(content="3"),
    )
    second = _agent(
        AIMessage(content="", tool_calls=[call("add", {"a": 1, "b": 3}, "call_1")]),
        AIMessage(content="", tool_calls=[call("add", {"a": 4, "b": 0}, "call_2")]),
        AIMessage(content="4"),
    )
    a, b = _traces(tape, first, second)

    result = tape.diff(a, b)

    # Same model, same prompt, same tools: nothing set up differently explains it.
    assert result.causes == []
    (group,) = result.groups
    assert group.causes == () and group.label == "unexplained"
    args = [e for e in result.effects if isinstance(e, ToolArgsChange)]
    assert [(e.step, e.fields) for e in args] == [("#4 tool add", (FieldChange("b", 2, 3),))]
    only = [e for e in result.effects if isinstance(e, StepChange)]
    assert [(e.step, e.only_in) for e in only] == [
        ("#7 node tools", "b"),
        ("#8 tool add", "b"),
        ("#9 node agent", "b"),
        ("#10 llm fake-tool-model-1", "b"),
    ]
    outputs = {e.step: e for e in result.effects if isinstance(e, OutputChange)}
    assert (outputs["#4 tool add"].text_a, outputs["#4 tool add"].text_b) == ("3", "4")
    assert outputs["#6 llm fake-tool-model-1"].text_a == "assistant: 3"
    assert outputs["LangGraph"].final
    totals = {m.metric: (m.value_a, m.value_b) for m in result.metrics if m.step == "total"}
    assert totals["steps"] == (6, 10)
    assert "#8 tool add only in B" in result.text(width=200)


class TunableFakeModel(ToolCallingFakeModel):
    """A fake model with a sampling param, reported among its invocation params."""

    temperature: float = 0.0

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}


def test_a_model_param_is_a_cause_and_the_same_answers_are_no_effect(tape: Tape) -> None:
    for temperature in (0.0, 0.7):
        model = TunableFakeModel(messages=script(AIMessage(content="3")), temperature=temperature)
        model.invoke("add 1 and 2", config={"callbacks": [tape.langchain()]})
    tape.flush()
    a, b = tape.sql("SELECT trace_id FROM traces ORDER BY start_time").trace_id

    result = tape.diff(a, b)

    assert result.causes == [
        ModelChange(name="fake-tool-model-1", fields=(FieldChange("params.temperature", 0.0, 0.7),))
    ]
    assert result.effects == []
    assert not result.is_empty


def test_ids_say_what_they_are(tape: Tape) -> None:
    a, b = _traces(tape, _agent(AIMessage(content="3")), _agent(AIMessage(content="3")))
    span_id = tape.sql("SELECT span_id FROM spans WHERE trace_id = ? LIMIT 1", [a]).iloc[0, 0]

    assert tape.diff(a[:8], b[:10]).is_empty  # unique prefixes of trace ids
    with pytest.raises(DiffError, match=f"a span id.*its trace is {a}"):
        tape.diff(span_id, b)
    with pytest.raises(DiffError, match="not a trace, run"):
        tape.diff("yesterday", b)
    with pytest.raises(NotFoundError, match="no run"):
        tape.diff("run-00000000000000000000000000000000", "run-11111111111111111111111111111111")


def test_the_notebook_view_shows_both_sides_escaped(tape: Tape) -> None:
    a = diff_app.record(tape, prompt="Answer <b>only</b> from this:")
    b = diff_app.record(tape, prompt="Answer from this & nothing else:")

    result = tape.diff(a, b)

    (prompt,) = result.causes
    assert isinstance(prompt, PromptChange)
    html = result._repr_mimebundle_()["text/html"]
    assert "<b>only</b>" not in html
    assert "&lt;b&gt;only&lt;/b&gt;" in html
    assert "&amp;" in html and "nothing&nbsp;else" in html
    assert f"A {a}" in html and f"B {b}" in html
    assert 'class="diff"' in html  # the texts side by side, line by line
    assert html.index("cause: prompt ChatPromptTemplate") < html.index("timings and tokens")
