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
    ErrorChange,
    FieldChange,
    ModelChange,
    OutputChange,
    PromptChange,
    Source,
    StepChange,
    ToolArgsChange,
    diff,
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
    # A node's state repeats its model's or tool's output: not shown twice.
    assert not [step for step in outputs if " node " in step]
    totals = {m.metric: (m.value_a, m.value_b) for m in result.metrics if m.step == "total"}
    assert totals["steps"] == (6, 10)
    assert "#8 tool add only in B" in result.text(width=200)


class TunableFakeModel(ToolCallingFakeModel):
    """A fake model with a sampling param, reported among its invocation params."""

    temperature: float = 0.0

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}


def _two_temperatures(tape: Tape) -> tuple[str, str]:
    """Two traces of one model call, at temperature 0.0 and 0.7, the same answer."""
    for temperature in (0.0, 0.7):
        model = TunableFakeModel(messages=script(AIMessage(content="3")), temperature=temperature)
        model.invoke("add 1 and 2", config={"callbacks": [tape.langchain()]})
    tape.flush()
    a, b = tape.sql("SELECT trace_id FROM traces ORDER BY start_time").trace_id
    return str(a), str(b)


def test_a_model_param_is_a_cause_and_the_same_answers_are_no_effect(tape: Tape) -> None:
    a, b = _two_temperatures(tape)

    result = tape.diff(a, b)

    assert result.causes == [
        ModelChange(name="fake-tool-model-1", fields=(FieldChange("params.temperature", 0.0, 0.7),))
    ]
    assert result.effects == []
    assert not result.is_empty


def test_a_source_of_your_own_takes_sql_and_params_only(tape: Tape) -> None:
    a, b = _two_temperatures(tape)

    def query(sql: str, params: Any) -> Any:  # the documented shape: no scope
        return tape.sql(sql, params, format="arrow")

    assert diff(Source(query), a, b).causes == tape.diff(a, b).causes != []


def test_ids_say_what_they_are(tape: Tape) -> None:
    a, b = _traces(tape, _agent(AIMessage(content="3")), _agent(AIMessage(content="3")))
    span_id = tape.sql("SELECT span_id FROM spans WHERE trace_id = ? LIMIT 1", [a]).iloc[0, 0]

    assert tape.diff(a[:8], b[:10]).is_empty  # unique prefixes of trace ids
    assert tape.diff(tape.trace(a), tape.trace(b)).is_empty  # or the traces themselves
    with pytest.raises(DiffError, match="neither an id nor a run or trace"):
        tape.diff(42, b)
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


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


def test_tokens_and_errors_per_step_and_in_total(tape: Tape) -> None:
    def agent(b: int, output_tokens: int) -> Any:
        usage = {
            "input_tokens": 20,
            "output_tokens": output_tokens,
            "total_tokens": 20 + output_tokens,
        }
        model = ToolCallingFakeModel(
            messages=script(
                AIMessage(content="", tool_calls=[call("divide", {"a": 6, "b": b}, "call_1")]),
                AIMessage(content="done", usage_metadata=usage),  # type: ignore[arg-type]
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from langgraph.prebuilt import ToolNode, create_react_agent

            # The error goes back to the model as a message; the tool span records it.
            return create_react_agent(model, ToolNode([divide], handle_tool_errors=True))

    a, b = _traces(tape, agent(2, output_tokens=3), agent(0, output_tokens=9))

    result = tape.diff(a, b)

    errors = [e for e in result.effects if isinstance(e, ErrorChange)]
    assert [(e.step, e.error_a, e.error_b) for e in errors] == [
        ("#4 tool divide", None, "ZeroDivisionError")
    ]
    metrics = {(m.step, m.metric): (m.value_a, m.value_b) for m in result.metrics}
    assert metrics[("#6 llm fake-tool-model-1", "output_tokens")] == (3, 9)
    assert metrics[("total", "output_tokens")] == (3, 9)
    assert metrics[("total", "errors")] == (0, 1)
    assert ("total", "input_tokens") not in metrics  # the same on both sides


def test_a_trace_and_its_replay_diff_empty(tape: Tape) -> None:
    def agent() -> Any:
        return _agent(
            AIMessage(content="", tool_calls=[call("add", {"a": 1, "b": 2}, "call_1")]),
            AIMessage(content="3"),
        )

    (original,) = _traces(tape, agent())
    replay = tape.replay(original, app=agent())

    result = tape.diff(original, str(replay.trace_id))

    assert result.is_empty, result.text(width=200)
    assert {m.metric for m in result.metrics} <= {"duration_ms"}
