"""Secrets never reach the tape; ``capture_content=False`` keeps metrics, drops content.

An agent over real HTTP (ChatOpenAI against the scripted server on 127.0.0.1) meets
credentials everywhere a user's would hide: the model's config and invocation params,
run metadata, message content, tool arguments and results, environment variables. After
flush the whole tape is searched: every table and view through DuckDB, every spool
segment through Arrow, and the raw bytes of every file the tape wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from langchain_core.tools import tool

import tracetape
from tests.fakes.openai_server import TEST_API_KEY, Reply, ToolCall
from tests.fakes.openai_server import openai_server as openai_server
from tracetape.spans.redact import refresh_environment

SECRETS = {
    "openai_in_config": TEST_API_KEY,  # the client's api_key, also sent as a bearer header
    "anthropic_in_message": "sk-ant-api03-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2",
    "github_in_tool_output": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
    "bearer_in_tool_argument": "abcDEF123456ghiJKL789mno",
    "keyed_tool_argument": "tool-arg-secret-value-0042",
    "extra_body_token": "extra-body-token-value-77",
    "metadata_password": "metadata-password-value-19",
    "metadata_text_key": "AKIAIOSFODNN7EXAMPLE",
    "env_value": "plain-env-value-31337",
    "google_in_message": "AIza" + "SyD-0123456789abcdefghijklmnopqrstu",
}
ENV_NAME = "ACME_SERVICE_TOKEN"
CANARY = "visible-canary-text"


@tool
def call_service(query: str, api_key: str, header: str) -> str:
    """Call the ACME service."""
    return (
        f"{CANARY}: answered {query}; deploy key {SECRETS['github_in_tool_output']}; "
        f"service token {os.environ[ENV_NAME]}"
    )


def _tape_text(path: Path) -> str:
    """Every row of every table and view of the tape, as text (read-only, after close)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema not in ('information_schema', 'pg_catalog')"
            ).fetchall()
        ]
        assert {"spans", "traces"} <= set(names)
        chunks = []
        for name in names:
            rows = con.execute(f'select columns(*)::varchar from "{name}"').fetchall()
            chunks.append(f"## {name}\n" + "\n".join(map(repr, rows)))
        return "\n".join(chunks)
    finally:
        con.close()


def _spool_text(root: Path) -> str:
    """Every Parquet segment under ``root``, decoded."""
    return "\n".join(repr(pq.read_table(p).to_pylist()) for p in sorted(root.rglob("*.parquet")))


def _raw_bytes(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _assert_nowhere(root: Path, tape_path: Path, needles: dict[str, str]) -> str:
    text = _tape_text(tape_path) + _spool_text(root)
    raw = _raw_bytes(root)
    for label, secret in needles.items():
        assert secret not in text, f"{label} reached the tape"
        assert secret.encode() not in raw, f"{label} is in the tape's bytes"
    return text


def _script_agent_run(server: Any) -> None:
    server.script(
        Reply(
            content="Calling the service.",
            tool_calls=(
                ToolCall(
                    "call_service",
                    {
                        "query": "lisbon-weather-query",
                        "api_key": SECRETS["keyed_tool_argument"],
                        "header": f"Bearer {SECRETS['bearer_in_tool_argument']}",
                    },
                    "call_1",
                ),
            ),
        ),
        Reply(content=f"Done. {CANARY}", prompt_tokens=40, completion_tokens=9),
    )


def _run_agent(tape: Any, server: Any) -> Any:
    from langchain.agents import create_agent

    model = server.chat_model(
        temperature=0,
        extra_body={"service_token": SECRETS["extra_body_token"]},
    )
    agent = create_agent(model, [call_service])
    return agent.invoke(
        {
            "messages": [
                (
                    "user",
                    f"My keys are {SECRETS['anthropic_in_message']} and "
                    f"{SECRETS['google_in_message']}; check status.",
                )
            ]
        },
        config={
            "callbacks": [tape.langchain()],
            "metadata": {
                "db_password": SECRETS["metadata_password"],
                "note": f"aws {SECRETS['metadata_text_key']}",
                "team": CANARY,
            },
        },
    )


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_NAME, SECRETS["env_value"])
    refresh_environment()


def test_secrets_never_reach_the_tape(tmp_path, openai_server, service_env):
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    try:
        _script_agent_run(openai_server)
        out = _run_agent(tape, openai_server)
        assert out["messages"][-1].content == f"Done. {CANARY}"
        assert tape.flush() > 0
        assert tape.sql("select count(*) from spans where kind = 'tool'").iloc[0, 0] == 1
    finally:
        tape.close()

    # The secrets really travelled: the server saw them, so capture had them to leak.
    sent = json.dumps(openai_server.requests)
    assert SECRETS["extra_body_token"] in sent
    assert SECRETS["anthropic_in_message"] in sent
    assert openai_server.request_headers[0]["authorization"] == f"Bearer {TEST_API_KEY}"

    text = _assert_nowhere(tmp_path, path, SECRETS)
    assert CANARY in text  # the search does see recorded content
    assert "[REDACTED]" in text


def test_an_error_message_with_a_secret_is_redacted(tmp_path, openai_server, service_env):
    @tool
    def leaky() -> str:
        """Fails, quoting a credential."""
        raise RuntimeError(f"auth failed for key {SECRETS['anthropic_in_message']}")

    openai_server.script(Reply(tool_calls=(ToolCall("leaky", {}, "call_leak"),)))
    from langchain.agents import create_agent

    agent = create_agent(openai_server.chat_model(), [leaky])
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    try:
        with pytest.raises(RuntimeError, match="auth failed for key sk-ant-"):
            agent.invoke({"messages": [("user", "go")]}, config={"callbacks": [tape.langchain()]})
        tape.flush()
    finally:
        tape.close()
    _assert_nowhere(tmp_path, path, {"error": SECRETS["anthropic_in_message"]})


def test_capture_content_off_keeps_metrics_and_drops_content(tmp_path, openai_server, service_env):
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path, capture_content=False)
    try:
        _script_agent_run(openai_server)
        out = _run_agent(tape, openai_server)
        assert out["messages"][-1].content == f"Done. {CANARY}"  # the program is unaffected
        tape.flush()

        llm = tape.sql(
            "select model, provider, input_tokens, output_tokens, duration_ms, input, output, "
            "attributes->>'gen_ai.request.model' as requested, "
            "attributes->'gen_ai.response.finish_reasons' as reasons "
            "from spans where kind = 'llm' order by start_time"
        )
        tools = tape.sql(
            "select tool_name, input, output, attributes->>'gen_ai.tool.call.id' as call_id "
            "from spans where kind = 'tool'"
        )
        trace = tape.traces().iloc[0]
    finally:
        tape.close()

    assert list(llm.model) == ["gpt-4o-2024-08-06"] * 2
    assert list(llm.requested) == ["gpt-4o"] * 2
    assert set(llm.provider) == {"openai"}
    assert list(llm.output_tokens) == [7, 9]
    assert llm.duration_ms.notna().all()
    assert [json.loads(r) for r in llm.reasons] == [["tool_calls"], ["stop"]]
    assert llm.input.isna().all() and llm.output.isna().all()
    assert (trace.n_llm, trace.n_tool, trace.input_tokens) == (2, 1, 51)
    assert list(tools.tool_name) == ["call_service"]
    assert list(tools.call_id) == ["call_1"]  # structure stays: ids join calls to tools
    assert tools.input.isna().all() and tools.output.isna().all()

    # No content anywhere: not the prompt, the answer, tool arguments or results.
    content = {
        "user prompt": "check status",
        "assistant text": "Calling the service.",
        "final answer": f"Done. {CANARY}",
        "tool argument": "lisbon-weather-query",
        "tool result": "answered lisbon",
    }
    _assert_nowhere(tmp_path, path, {**SECRETS, **content})


def test_a_prompt_s_values_redact_a_secret_named_input(tmp_path):
    from langchain_core.language_models import FakeListChatModel
    from langchain_core.prompts import ChatPromptTemplate

    secret = "zq81-Xk2w-PLMN-7731-unrendered"  # no known credential shape: found by its key
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    path = tmp_path / "tape.duckdb"
    tape = tracetape.open(path)
    try:
        # The whole input reaches the prompt, which shows its values: the key the
        # template does not use is there too.
        (prompt | FakeListChatModel(responses=["ok"])).invoke(
            {"question": CANARY, "api_key": secret}, config={"callbacks": [tape.langchain()]}
        )
        tape.flush()
        values = tape.sql(
            "SELECT attributes->>'tracetape.prompt.variable_values' AS v FROM spans "
            "WHERE kind = 'prompt'"
        ).v.tolist()
    finally:
        tape.close()

    assert len(values) == 1 and CANARY in values[0] and "[REDACTED]" in values[0]
    _assert_nowhere(tmp_path, path, {"unrendered_key": secret})
