"""Schema v4: replay reads the ``replay`` column; tapes and segments from before it replay.

A real agent is recorded, then its tape is turned into what tracetape 3 left: no
``replay`` column, one trace still in the spool as a segment without it, the spool's
schema file without it. Opening it upgrades the tape; both traces replay, and fold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

import tracetape
from tests.fakes.models import ToolCallingFakeModel, call, script
from tests.unit.store.old_tapes import V3_SPAN_SCHEMA
from tracetape.store import spool
from tracetape.store.schema.tables import SCHEMA_VERSION


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _agent() -> Any:
    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("add", {"a": 2, "b": 3}, "c1")]),
            AIMessage(content="5"),
            AIMessage(content="", tool_calls=[call("add", {"a": 4, "b": 4}, "c2")]),
            AIMessage(content="8"),
        )
    )
    prompt = ChatPromptTemplate.from_messages([("system", "Add."), MessagesPlaceholder("messages")])
    chain = prompt | model.bind_tools([add])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [chain.invoke(state)]}

    builder = StateGraph(MessagesState)
    builder.add_node("model", call_model)
    builder.add_node("tools", ToolNode([add]))
    builder.add_edge(START, "model")
    builder.add_conditional_edges("model", tools_condition)
    builder.add_edge("tools", "model")
    return builder.compile(name="adder")


def _record(path: Path) -> tuple[Any, list[str]]:
    graph = _agent()
    tape = tracetape.open(path)
    try:
        for question in ("2 + 3?", "4 + 4?"):
            graph.invoke(
                {"messages": [("user", question)]}, config={"callbacks": [tape.langchain()]}
            )
        tape.flush()
        ids = tape.sql("SELECT trace_id FROM traces ORDER BY start_time").trace_id.tolist()
    finally:
        tape.close()
    return graph, ids


def _as_version_3(path: Path, spooled: str) -> None:
    """The tape as tracetape 3 left it, with ``spooled`` not folded yet."""
    folder = spool.spool_dir(path) / "spans"
    con = duckdb.connect(str(path))
    try:
        rows = con.sql(
            "SELECT * EXCLUDE (replay) FROM _spans WHERE trace_id = $1", params=[spooled]
        ).to_arrow_table()
        segment = rows.select(V3_SPAN_SCHEMA.names).cast(V3_SPAN_SCHEMA)
        pq.write_table(segment, folder / "00000000000000000001-1-000001.parquet")
        con.execute("DELETE FROM _spans WHERE trace_id = ?", [spooled])
        con.execute("DROP VIEW IF EXISTS _span_rows")
        con.execute("ALTER TABLE _spans DROP COLUMN replay")
        con.execute("UPDATE _meta SET value = '3' WHERE key = 'schema_version'")
    finally:
        con.close()
    pq.write_table(V3_SPAN_SCHEMA.empty_table(), folder / spool.SCHEMA_FILE)


def test_a_version_3_tape_upgrades_and_its_folded_and_spooled_traces_replay(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tape.duckdb"
    graph, (folded, spooled) = _record(path)
    _as_version_3(path, spooled)

    tape = tracetape.open(path)
    try:
        assert len(tape.sql("SELECT * FROM spans WHERE trace_id = ?", [spooled])) > 0
        first = [tape.replay(trace_id, app=graph) for trace_id in (folded, spooled)]
        tape.flush()  # folds the segment tracetape 3 wrote
        again = tape.replay(spooled, app=graph)
        tape.flush()
    finally:
        tape.close()

    for replay in (*first, again):
        assert (replay.same_output, replay.from_tape, replay.ran_live) == (True, 3, 0)
    con = duckdb.connect(str(path), read_only=True)
    try:
        version = con.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchall()
        assert version == [(str(SCHEMA_VERSION),)] == [("4",)]
        old = con.execute(
            "SELECT count(*), count(replay) FROM _spans WHERE trace_id IN (?, ?)",
            [folded, spooled],
        ).fetchall()
        assert old[0][0] > 0 and old[0][1] == 0  # older rows keep NULL: read the old way
        new = con.execute(
            "SELECT count(*) = count(replay) FROM _spans WHERE trace_id = ?", [again.trace_id]
        ).fetchall()
        assert new == [(True,)]
    finally:
        con.close()
    marker = pq.read_schema(spool.spool_dir(path) / "spans" / spool.SCHEMA_FILE)
    assert "replay" in marker.names


def test_the_replay_column_holds_what_replay_reads_and_no_displays(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    _, (trace_id, _) = _record(path)

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT kind, parent_span_id IS NULL, replay, length(attributes) FROM _spans "
            "WHERE trace_id = ?",
            [trace_id],
        ).fetchall()
    finally:
        con.close()

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for kind, _is_root, text, _size in rows:
        by_kind.setdefault(kind, []).append(json.loads(text))
    llm = by_kind["llm"][0]
    assert "tracetape.model.invocation_params" in llm
    assert "tracetape.replay.input" in llm and "tracetape.replay.output" in llm
    assert "gen_ai.input.messages" not in llm and "gen_ai.output.messages" not in llm
    tool_span = by_kind["tool"][0]
    assert tool_span["gen_ai.tool.name"] == "add"
    assert "gen_ai.tool.call.result" not in tool_span
    assert all("tracetape.langgraph.step" in node for node in by_kind["node"])
    assert all("tracetape.input" not in node for node in by_kind["node"])
    assert by_kind["prompt"] == [{}, {}]
    graph = by_kind["graph"][0]
    assert "tracetape.replay.input" in graph and "tracetape.input" not in graph
    assert sum(len(t) for _, _, t, _ in rows) < sum(size for *_, size in rows) / 2
