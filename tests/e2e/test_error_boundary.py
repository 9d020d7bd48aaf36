"""tracetape's own failures never reach the user's program (strict mode off).

Every callback hook is made to fail inside tracetape; the agent (ChatOpenAI over real
HTTP, streaming, with tools) must return exactly what it returns untraced, each distinct
failure must be logged once on the ``tracetape`` logger saying the program is unaffected,
and a user's own exception from a tool must reach the user as the very same object.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import tool

from tests.fakes.openai_server import Reply, ToolCall
from tests.fakes.openai_server import openai_server as openai_server
from tracetape import _safety
from tracetape.capture.langchain import langgraph, llm, tools


class TracetapeBug(RuntimeError):
    """Stands for any bug inside tracetape."""


class UserToolError(Exception):
    """The user's own error, raised by their tool."""


USER_ERROR = UserToolError("the inventory service is down")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def inventory(item: str) -> str:
    """Look an item up in the inventory."""
    raise USER_ERROR


class BrokenState(dict[Any, Any]):
    """A run map that fails on every use, as a corrupted handler state would."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise TracetapeBug("handler state is broken")

    get = pop = setdefault = items = __getitem__ = __setitem__ = __contains__ = _fail
    __len__ = __iter__ = _fail


def _broken_extractor(*args: Any, **kwargs: Any) -> Any:
    raise TracetapeBug("extractor is broken")


@pytest.fixture
def lenient(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Strict mode off, and a fresh once-per-error memory, for this test only."""
    monkeypatch.setattr(_safety, "_seen", set())
    _safety.set_strict(False)
    yield
    _safety.set_strict(True)


def _agent(server: Any, tool_list: list[Any]) -> Any:
    from langchain.agents import create_agent

    return create_agent(server.chat_model(streaming=True, stream_usage=True), tool_list)


def _script_add(server: Any) -> None:
    server.script(
        Reply(tool_calls=(ToolCall("add", {"a": 2, "b": 3}, "call_add"),)),
        Reply(content="The sum is 5."),
    )


def _break_every_hook(handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler.runs, "_runs", BrokenState())
    monkeypatch.setattr(handler.runs, "_hidden", BrokenState())
    monkeypatch.setattr(handler.recorder, "display", _broken_extractor)


def _tracetape_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tracetape"]


def test_every_hook_failing_leaves_the_agent_untouched(
    tape, openai_server, lenient, monkeypatch, caplog
):
    question = {"messages": [("user", "add 2 and 3")]}
    _script_add(openai_server)
    expected = _agent(openai_server, [add]).invoke(question)

    handler = tape.langchain()
    _break_every_hook(handler, monkeypatch)
    errors_before = _safety.error_count()
    with caplog.at_level(logging.WARNING, logger="tracetape"):
        for _ in range(2):  # the second run repeats every failure: nothing new is logged
            _script_add(openai_server)
            out = _agent(openai_server, [add]).invoke(question, config={"callbacks": [handler]})
            assert [m.content for m in out["messages"]] == [m.content for m in expected["messages"]]
            assert out["messages"][-1].content == "The sum is 5."

    assert openai_server.request_count == 6
    records = _tracetape_records(caplog)
    places = [r.getMessage().split(" in ", 1)[1].split(" ", 1)[0] for r in records]
    assert len(places) == len(set(places)), "an error was logged more than once"
    assert {
        "langchain.on_chain_start",
        "langchain.on_chain_end",
        "langchain.on_chat_model_start",
        "langchain.on_llm_new_token",
        "langchain.on_llm_end",
        "langchain.on_tool_start",
        "langchain.on_tool_end",
    } <= set(places)
    for record in records:
        assert record.levelno == logging.WARNING
        assert "your program is unaffected" in record.getMessage()
        assert "TracetapeBug" in record.getMessage()
        assert record.exc_info is not None  # with its traceback
    # Every failure is counted, though each is logged once.
    assert _safety.error_count() - errors_before > len(records)


def test_failing_extractors_cost_attributes_not_spans(
    tape, openai_server, lenient, monkeypatch, caplog
):
    for module, name in [
        (llm, "request_attributes"),
        (llm, "response_message"),
        (tools, "start_attributes"),
        (tools, "end_attributes"),
        (langgraph, "attributes"),
    ]:
        monkeypatch.setattr(module, name, _broken_extractor)
    _script_add(openai_server)

    with caplog.at_level(logging.WARNING, logger="tracetape"):
        out = _agent(openai_server, [add]).invoke(
            {"messages": [("user", "add 2 and 3")]}, config={"callbacks": [tape.langchain()]}
        )
    assert out["messages"][-1].content == "The sum is 5."
    tape.flush()

    spans = tape.sql(
        "select kind, status, tool_name, attributes->>'gen_ai.request.model' as requested "
        "from spans where kind in ('llm', 'tool') order by start_time"
    )
    assert list(spans.kind) == ["llm", "tool", "llm"]
    assert set(spans.status) == {"ok"}
    assert spans.tool_name[1] == "add"  # the handler's fallback attributes
    assert spans.requested.isna().all()  # what the broken extractor would have added
    records = _tracetape_records(caplog)
    assert records
    assert all("your program is unaffected" in r.getMessage() for r in records)


def test_a_user_tool_error_reaches_the_user_unchanged_while_hooks_fail(
    tape, openai_server, lenient, monkeypatch, caplog
):
    def script() -> None:
        openai_server.script(Reply(tool_calls=(ToolCall("inventory", {"item": "mug"}, "c1"),)))

    question = {"messages": [("user", "do we have mugs?")]}
    script()
    with pytest.raises(UserToolError) as untraced:
        _agent(openai_server, [inventory]).invoke(question)

    _break_every_hook(tape.langchain(), monkeypatch)
    script()
    with (
        caplog.at_level(logging.WARNING, logger="tracetape"),
        pytest.raises(UserToolError) as traced,
    ):
        _agent(openai_server, [inventory]).invoke(
            question, config={"callbacks": [tape.langchain()]}
        )

    assert traced.value is USER_ERROR is untraced.value
    assert str(traced.value) == "the inventory service is down"
    assert not isinstance(traced.value, TracetapeBug)
    assert traced.value.__cause__ is None
    # The user's traceback still ends in the user's tool.
    frames = []
    tb = traced.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "inventory"
    assert _tracetape_records(caplog)


def test_user_tool_error_with_a_working_tracer_is_recorded_and_reraised(tape, openai_server):
    openai_server.script(Reply(tool_calls=(ToolCall("inventory", {"item": "mug"}, "c1"),)))
    with pytest.raises(UserToolError) as caught:
        _agent(openai_server, [inventory]).invoke(
            {"messages": [("user", "mugs?")]}, config={"callbacks": [tape.langchain()]}
        )
    assert caught.value is USER_ERROR
    tape.flush()

    row = tape.sql("select status, error_type, status_message from spans where kind = 'tool'").iloc[
        0
    ]
    assert row.status == "error"
    assert row.error_type == "tests.e2e.test_error_boundary.UserToolError"
    assert row.status_message == "the inventory service is down"
