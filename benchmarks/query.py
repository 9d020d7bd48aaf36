"""Query latency on a tape of 1,000,000 spans: tracetape's read API against raw DuckDB SQL.

Run by hand (never in tests), from the repository root:

    .venv/bin/python benchmarks/query.py                  # 20,000 traces x 50 spans, 30 rounds
    .venv/bin/python benchmarks/query.py --traces 2000 --rounds 10     # a quick look
    .venv/bin/python benchmarks/query.py --keep /tmp/bench             # reuse the tape next time

**The tape.** ``--traces`` traces of 50 spans each (a LangGraph agent's shape: one graph
span, nodes, chains, prompts, 10 model calls, 10 tool calls, a retriever and an
embedding), spread over the last 30 days, 5% with a failed tool call, 5 models. Rows are
generated as Arrow and inserted straight into the folded ``_spans`` table (time order,
as folding leaves it), with the newest ``--spooled`` traces left as Parquet segments in
the spool (not folded), as a recording process leaves them between folds. Nothing goes
through LangChain: this measures reading, not recording.

**The queries**, each timed ``--rounds`` times with the tape already open (one warm-up
first), tracetape's public call against the same question asked in raw DuckDB SQL on
the same file in the same run (one read-only connection kept open, over the raw table
and the spool, so the raw side never pays an open either):

  listing   ``tape.traces(limit=50)`` vs the newest 50 traces aggregated from the spans
  trace     ``tape.trace(id)`` of a 50-span trace vs its spans by id
  search    ``tape.traces(model=X, errors_only=True, since="1d")`` vs the same filter

The raw side is the question asked as one plain aggregate over the raw rows, as a user
writing SQL would. For reference it also prints the listing done by hand the way
tracetape does it (a page of ids, then only those traces' spans, pruned by time), the
floor tracetape's view-based second query sits above.

It prints the medians, the ratios (the issue's bars: listing <= 100 ms, trace <= 20 ms,
each within 2x of raw SQL) and, separately, what the first query after opening costs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

import tracetape
from tracetape.store import access, spool
from tracetape.store.schema.tables import SPAN_SCHEMA

SPANS_PER_TRACE = 50
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-3-70b", "mistral-large")
TOOLS = ("search_docs", "lookup_order", "calculator", "send_email", "weather")
# One trace's span layout: (kind, name) in start order; llm/tool names are filled in.
LAYOUT: list[tuple[str, str]] = [("graph", "support-agent"), ("retriever", "VectorStoreRetriever")]
LAYOUT += [("embedding", "embeddings")]
for _step in range(10):
    LAYOUT += [("node", "agent"), ("prompt", "ChatPromptTemplate"), ("llm", ""), ("tool", "")]
LAYOUT += [("node", "tools"), ("chain", "route")] * 3 + [("node", "final")]
assert len(LAYOUT) == SPANS_PER_TRACE, len(LAYOUT)


def _hex(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    return np.array([row.tobytes().hex() for row in raw], dtype=object)


def make_spans(first: int, count: int, total: int, now: dt.datetime, seed: int) -> pa.Table:
    """Spans of traces ``first .. first + count`` (of ``total``, oldest first) as Arrow."""
    rng = np.random.default_rng(seed + first)
    n = count * SPANS_PER_TRACE
    span_ids = _hex(rng, n, 8)
    trace_ids = np.repeat(_hex(rng, count, 16), SPANS_PER_TRACE)
    # Traces spread evenly over 30 days, newest last; spans 40 ms apart within one.
    span_of = 30 * 86_400_000_000 // total
    trace_start = (now - dt.timedelta(days=30)).timestamp() * 1e6 + (
        np.arange(first, first + count) * span_of
    )
    offsets = np.arange(SPANS_PER_TRACE) * 40_000
    starts = (trace_start[:, None] + offsets[None, :]).ravel().astype("int64")
    durations = np.tile(np.full(SPANS_PER_TRACE, 30_000), count).astype("int64")
    durations[::SPANS_PER_TRACE] = SPANS_PER_TRACE * 40_000  # the root spans the whole trace
    kinds = np.tile(np.array([k for k, _ in LAYOUT], dtype=object), count)
    names = np.tile(np.array([nm for _, nm in LAYOUT], dtype=object), count)
    trace_model = np.array(MODELS, dtype=object)[rng.integers(0, len(MODELS), count)]
    models = np.where(kinds == "llm", np.repeat(trace_model, SPANS_PER_TRACE), None)
    tool_pick = np.array(TOOLS, dtype=object)[rng.integers(0, len(TOOLS), n)]
    tools = np.where(kinds == "tool", tool_pick, None)
    names = np.where(kinds == "llm", "ChatModel", np.where(kinds == "tool", tool_pick, names))
    failed = rng.random(count) < 0.05
    last_tool = max(i for i, (k, _) in enumerate(LAYOUT) if k == "tool")
    status = np.full(n, "ok", dtype=object)
    status[np.flatnonzero(failed) * SPANS_PER_TRACE + last_tool] = "error"
    parents = np.roll(span_ids, 1)
    parents[::SPANS_PER_TRACE] = None
    words = rng.integers(0, 10_000, n)
    question = '{{"messages":[{{"role":"user","content":"question number {} about orders"}}]}}'
    inputs = [question.format(w) for w in words]
    outputs = [f'{{"content":"answer {w}: shipping takes {w % 9 + 1} days"}}' for w in words]
    attrs = json.dumps(
        {"gen_ai.operation.name": "chat", "tracetape.langgraph.step": 3}
        | {f"tracetape.pad.{i}": "x" * 20 for i in range(12)}
    )
    tokens = np.where(kinds == "llm", rng.integers(50, 2000, n), None)
    return pa.table(
        {
            "trace_id": pa.array(trace_ids, pa.string()),
            "span_id": pa.array(span_ids, pa.string()),
            "parent_span_id": pa.array(parents, pa.string()),
            "name": pa.array(names, pa.string()),
            "kind": pa.array(kinds, pa.string()),
            "operation": pa.array(kinds, pa.string()),
            "start_time": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "end_time": pa.array(starts + durations, pa.timestamp("us", tz="UTC")),
            "duration_ms": pa.array(durations / 1000.0, pa.float64()),
            "status": pa.array(status, pa.string()),
            "status_message": pa.array(np.where(status == "error", "boom", None), pa.string()),
            "error_type": pa.array(np.where(status == "error", "ValueError", None), pa.string()),
            "model": pa.array(models, pa.string()),
            "provider": pa.array(np.where(kinds == "llm", "openai", None), pa.string()),
            "tool_name": pa.array(tools, pa.string()),
            "input": pa.array(inputs, pa.string()),
            "output": pa.array(outputs, pa.string()),
            "attributes": pa.array([attrs] * n, pa.string()),
            "input_tokens": pa.array(tokens, pa.int64()),
            "output_tokens": pa.array(tokens, pa.int64()),
            "run_id": pa.array([None] * n, pa.string()),
            "environment_id": pa.array(["env-0000000000000000"] * n, pa.string()),
            "replay_of": pa.array([None] * n, pa.string()),
            "tags": pa.array([["bench"]] * n, pa.list_(pa.string())),
            "replayable": pa.array([True] * n, pa.bool_()),
            "pid": pa.array([1] * n, pa.int64()),
            "replay": pa.array(["{}"] * n, pa.string()),
        },
        schema=SPAN_SCHEMA,
    )


def build(path: Path, traces: int, spooled: int, seed: int = 7) -> float:
    """Create the tape at ``path``; returns seconds taken."""
    began = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    tracetape.open(path).close()  # schema, views, spool
    chunk = 2_000
    folded = traces - spooled
    with access.writing(path, 60.0) as con:
        assert con is not None
        for first in range(0, folded, chunk):
            batch = make_spans(first, min(chunk, folded - first), traces, now, seed)
            con.register("batch", batch)
            con.execute("INSERT INTO _spans SELECT * FROM batch")
            con.unregister("batch")
        con.execute("CHECKPOINT")
    spool_dir = spool.spool_dir(path)
    for first in range(folded, traces, 10):
        batch = make_spans(first, min(10, traces - first), traces, now, seed)
        spool.write_segment(spool_dir, "spans", batch)
    return time.perf_counter() - began


RAW_SPANS = (
    "(SELECT * EXCLUDE (pid) FROM _spans UNION ALL BY NAME "
    "SELECT * EXCLUDE (pid, filename) FROM read_parquet($glob, filename = true) "
    "WHERE parse_filename(filename) NOT IN (SELECT segment FROM _folded))"
)
# The listing's columns, computed in one plain aggregate over the raw rows.
RAW_COLUMNS = """
SELECT trace_id, arg_min(name, start_time) AS name, min(start_time) AS start_time,
       max(end_time) AS end_time,
       date_diff('microsecond', min(start_time), max(end_time)) / 1000.0 AS duration_ms,
       CASE WHEN bool_or(status = 'error') THEN 'error' ELSE 'ok' END AS status,
       count(*) AS n_spans, count(*) FILTER (WHERE kind = 'llm') AS n_llm,
       count(*) FILTER (WHERE kind = 'tool') AS n_tool,
       count(*) FILTER (WHERE kind = 'retriever') AS n_retriever,
       count(*) FILTER (WHERE status = 'error') AS n_errors,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       list_sort(list_distinct(list(model))) AS models, any_value(run_id) AS run_id,
       list_sort(list_distinct(flatten(list(tags)))) AS tags,
       left(arg_min(input::VARCHAR, start_time) FILTER (WHERE parent_span_id IS NULL), 200)
           AS input,
       left(arg_min(output::VARCHAR, start_time) FILTER (WHERE parent_span_id IS NULL), 200)
           AS output
FROM s GROUP BY trace_id
"""
RAW_PAGE = (
    f"SELECT trace_id, min(start_time) AS start_time FROM {RAW_SPANS} "
    "GROUP BY trace_id ORDER BY start_time DESC LIMIT 50"
)
RAW_LISTING = f"WITH s AS {RAW_SPANS} {RAW_COLUMNS} ORDER BY start_time DESC LIMIT 50"
RAW_TRACE = f"WITH s AS {RAW_SPANS} SELECT * FROM s WHERE trace_id = $id ORDER BY start_time"
RAW_SEARCH = f"""
WITH s AS {RAW_SPANS} {RAW_COLUMNS}
HAVING bool_or(model = $model) AND bool_or(status = 'error') AND min(start_time) >= $since
ORDER BY start_time DESC LIMIT 50
"""


def _median_ms(fn: Callable[[], Any], rounds: int) -> float:
    fn()  # warm-up
    times: list[float] = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(path: Path, rounds: int) -> list[tuple[str, float, float, float]]:
    """(query, tracetape ms, raw ms, bar ms) for each query."""
    tape = tracetape.open(path)
    began = time.perf_counter()
    listing = tape.traces(limit=50)
    first_query = (time.perf_counter() - began) * 1000
    trace_id = str(listing["trace_id"].iloc[len(listing) // 2])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    glob = str(spool.spool_dir(path).resolve() / "spans" / "*.parquet")
    raw = duckdb.connect(str(path), read_only=True)

    def raw_sql(query: str, params: dict[str, Any]) -> Callable[[], Any]:
        return lambda: raw.sql(query, params={"glob": glob} | params).to_arrow_table().to_pandas()

    # Both sides alternate on one file: tracetape's cached reader and the raw connection
    # are two configurations of one database only if they match; keep them apart in time.
    rows: list[tuple[str, float, float, float]] = []
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], float]] = [
        ("listing", lambda: tape.traces(limit=50), raw_sql(RAW_LISTING, {}), 100.0),
        ("trace", lambda: tape.trace(trace_id), raw_sql(RAW_TRACE, {"id": trace_id}), 20.0),
        (
            "search",
            lambda: tape.traces(model=MODELS[0], errors_only=True, since="1d"),
            raw_sql(RAW_SEARCH, {"model": MODELS[0], "since": since}),
            100.0,
        ),
    ]
    for name, ours, theirs, bar in cases:
        rows.append((name, _median_ms(ours, rounds), _median_ms(theirs, rounds), bar))

    def raw_two_phase() -> Any:
        # What tracetape does, by hand on the raw rows: page of ids, then only their spans.
        page = raw.sql(RAW_PAGE, params={"glob": glob}).to_arrow_table()
        ids = page.column("trace_id").to_pylist()
        oldest = min(page.column("start_time").to_pylist())
        marks = ", ".join(f"$i{n}" for n in range(len(ids)))
        query = (
            f"WITH s AS (SELECT * FROM {RAW_SPANS} WHERE start_time >= $oldest "
            f"AND trace_id IN ({marks})) {RAW_COLUMNS} ORDER BY start_time DESC"
        )
        params = {"glob": glob, "oldest": oldest} | {f"i{n}": x for n, x in enumerate(ids)}
        return raw.sql(query, params=params).to_arrow_table().to_pandas()

    two_phase = _median_ms(raw_two_phase, rounds)
    print(f"for reference, the listing as two hand-written raw queries: {two_phase:.1f} ms median")
    raw.close()

    def reopened() -> None:
        access.release_reader(path)  # as after a second idle: the next read opens
        tape.traces(limit=50)

    print(f"first tape.traces(limit=50) after tracetape.open: {first_query:.1f} ms")
    cold = _median_ms(reopened, max(rounds // 3, 3))
    print(f"tape.traces(limit=50) with the file opened for it: {cold:.1f} ms median")
    tape.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--spooled", type=int, default=50, help="newest traces left in the spool")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="build the tape here once and reuse it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tracetape-query-"))
    path = folder / "tape.duckdb"
    if not path.exists():
        seconds = build(path, args.traces, args.spooled)
        print(f"built {args.traces * SPANS_PER_TRACE:,} spans in {seconds:.1f} s at {path}")
    rows = measure(path, args.rounds)
    print(f"{'query':<9}{'tracetape ms':>14}{'raw SQL ms':>12}{'ratio':>8}{'bar ms':>8}  ok")
    for name, ours, theirs, bar in rows:
        ok = ours <= bar and ours <= 2 * theirs
        print(f"{name:<9}{ours:>14.1f}{theirs:>12.1f}{ours / theirs:>8.2f}{bar:>8.0f}  {ok}")


if __name__ == "__main__":
    main()
