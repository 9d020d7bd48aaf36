"""Ingest throughput: spans per second from the tape's exporter into DuckDB, vs. a ceiling.

Run by hand (never in tests), from the repository root:

    .venv/bin/python benchmarks/ingest.py                      # 50,000 spans, best of 3
    .venv/bin/python benchmarks/ingest.py --spans 20000 --repeat 1 --profile

N real OpenTelemetry ``ReadableSpan`` objects (made by the SDK's ``Tracer``, with the
attributes a chat-model span carries: GenAI semconv keys, about 1.3 KB of JSON in input
and output messages and invocation params) are written two ways, each into a fresh
file-backed DuckDB database in a temporary directory:

  tracetape  ``TapeSpanExporter.export`` in batches of ``--batch`` spans (span -> Arrow row
             -> Parquet segment in the spool), then one ``fold`` (one transaction:
             ``INSERT ... SELECT FROM read_parquet`` of every segment, and the close that
             checkpoints). Spans in, rows in DuckDB out: end to end.
  ceiling    the same rows, already an Arrow table (built off the clock), inserted into
             the same table layout: open, one ``INSERT ... SELECT * FROM arrow`` per batch,
             close. What DuckDB itself can take from Python.

It prints both rates, the ratio (the issue's bar: at least 0.5) and where tracetape's
time goes (conversion, Parquet, fold). ``--profile`` adds a cProfile of the tracetape
path, by inclusive time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tracetape.spans import semconv
from tracetape.store import access
from tracetape.store.arrow import spans_table
from tracetape.store.exporter import TapeSpanExporter
from tracetape.store.schema.tables import SPAN_SCHEMA, create_table_sql

T = TypeVar("T")
ENVIRONMENT = {"environment_id": "env-0000000000000000", "python": {"version": "3"}}
WORDS = (
    "the", "a", "weather", "city", "forecast", "tool", "answer",
    "user", "question", "paris", "rome", "sunny", "rain",
)  # fmt: skip


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def make_spans(n: int, seed: int = 7) -> list[ReadableSpan]:
    """``n`` ended chat-model spans with realistic GenAI attributes (~1.3 KB JSON each)."""
    rng = random.Random(seed)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    for i in range(n):
        messages = [
            {"role": "system", "parts": [{"type": "text", "content": _text(rng, 12)}]},
            {"role": "user", "parts": [{"type": "text", "content": _text(rng, 22)}]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": f"call-{i}",
                        "name": "lookup",
                        "arguments": {"city": _text(rng, 1)},
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [
                    {"type": "tool_call_response", "id": f"call-{i}", "response": _text(rng, 15)}
                ],
            },
        ]
        output = [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": _text(rng, 18)}],
                "finish_reason": "stop",
            }
        ]
        attributes = {
            semconv.KIND: "llm",
            semconv.OPERATION_NAME: "chat",
            semconv.PROVIDER_NAME: "openai",
            semconv.REQUEST_MODEL: "gpt-4o-mini",
            semconv.RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
            semconv.RESPONSE_ID: f"chatcmpl-{i:012d}",
            semconv.RESPONSE_FINISH_REASONS: ("stop",),
            semconv.REQUEST_TEMPERATURE: 0.2,
            semconv.USAGE_INPUT_TOKENS: rng.randint(100, 2000),
            semconv.USAGE_OUTPUT_TOKENS: rng.randint(5, 300),
            semconv.INPUT_MESSAGES: json.dumps(messages),
            semconv.OUTPUT_MESSAGES: json.dumps(output),
            semconv.INVOCATION_PARAMS: json.dumps(
                {"model": "gpt-4o-mini", "temperature": 0.2, "stream": False, "n": 1}
            ),
            semconv.MODEL_CLASS: "langchain_openai.chat_models.base.ChatOpenAI",
            semconv.LANGCHAIN_RUN_ID: f"{i:08d}-0000-4000-8000-000000000000",
            semconv.RUN_ID: "run-bench",
            semconv.REPLAYABLE: True,
            semconv.TAGS: ("bench", "ingest"),
        }
        span = tracer.start_span("ChatOpenAI", attributes=attributes)
        span.set_status(Status(StatusCode.OK))
        span.end()
    spans = list(exporter.get_finished_spans())
    provider.shutdown()
    return spans


def _batches(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_tracetape(spans: list[ReadableSpan], batch: int, folder: Path) -> dict[str, float]:
    path = folder / "tape.duckdb"
    access.create_or_upgrade(path, timeout=10.0)
    exporter = TapeSpanExporter(path, ENVIRONMENT)
    start = time.perf_counter()
    for chunk in _batches(spans, batch):
        exporter.export(chunk)
    spooled = time.perf_counter()
    folded = exporter.fold(timeout=10.0)
    end = time.perf_counter()
    assert folded == len(spans), (folded, len(spans))
    return {"total": end - start, "spool": spooled - start, "fold": end - spooled}


def run_ceiling(tables: list[pa.Table], folder: Path) -> float:
    path = folder / "plain.duckdb"
    con = duckdb.connect(str(path))
    con.execute(create_table_sql("spans", SPAN_SCHEMA))
    con.close()
    start = time.perf_counter()
    con = duckdb.connect(str(path))
    for table in tables:
        con.register("batch", table)
        con.execute("INSERT INTO spans SELECT * FROM batch")
        con.unregister("batch")
    con.close()
    end = time.perf_counter()
    con = duckdb.connect(str(path), read_only=True)
    count = con.execute("SELECT count(*) FROM spans").fetchone()
    con.close()
    assert count == (sum(t.num_rows for t in tables),)
    return end - start


def _best(fn: Callable[[Path], float], repeat: int) -> float:
    times: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="tracetape-ingest-") as tmp:
            times.append(fn(Path(tmp)))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    spans = make_spans(args.spans)
    tables = [spans_table(chunk)[0] for chunk in _batches(spans, args.batch)]
    row_json = sum(len(r) for r in tables[0].column("attributes").to_pylist())
    print(
        f"{len(spans):,} spans made in {time.perf_counter() - t0:.1f}s; "
        f"attributes JSON {row_json / tables[0].num_rows:,.0f} chars per span; "
        f"batches of {args.batch}; best of {args.repeat}"
    )

    parts: dict[str, float] = {}

    def tracetape_once(folder: Path) -> float:
        result = run_tracetape(spans, args.batch, folder)
        if not parts or result["total"] < parts["total"]:
            parts.update(result)
        return result["total"]

    ceiling = _best(lambda folder: run_ceiling(tables, folder), args.repeat)
    ours = _best(tracetape_once, args.repeat)
    n = len(spans)
    print(
        f"ceiling   (Arrow table -> DuckDB INSERT): {n / ceiling:>9,.0f} spans/s ({ceiling:.2f}s)"
    )
    print(
        f"tracetape (exporter -> spool -> fold):   {n / ours:>9,.0f} spans/s ({ours:.2f}s: "
        f"spool {parts['spool']:.2f}s, fold {parts['fold']:.2f}s)"
    )
    ratio = ceiling / ours
    verdict = "PASS" if ratio >= 0.5 else "FAIL"
    print(f"ratio tracetape / ceiling: {ratio:.2f} (bar: >= 0.50) {verdict}")

    if args.profile:
        profiler = cProfile.Profile()
        with tempfile.TemporaryDirectory(prefix="tracetape-ingest-") as tmp:
            profiler.enable()
            run_tracetape(spans, args.batch, Path(tmp))
            profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
