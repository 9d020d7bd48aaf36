"""Per-span overhead of tracetape vs. LangChain's floor and OpenInference, on one agent loop.

Run by hand (never in tests), from the repository root:

    .venv/bin/python benchmarks/overhead.py                 # ~3 min on 2 cores
    .venv/bin/python benchmarks/overhead.py --rounds 50 --profile-runs 0   # quick look

A hand-written LangGraph agent (1 retrieval over ``InMemoryVectorStore`` with
``DeterministicFakeEmbedding``, 11 model calls of an instant fake chat model, 10 tool
calls; fully offline) is run under four conditions, interleaved in shuffled order in every
round of ONE process so that machine noise hits all of them alike:

  untraced     no callbacks
  noop         a ``BaseCallbackHandler`` that does nothing (``run_inline = True``): the
               floor every LangChain tracer pays for the callback machinery itself
  tracetape    ``config={"callbacks": [tape.langchain()]}`` into a tape in a temp dir
  openinference  ``LangChainInstrumentor().instrument(tracer_provider=...)`` + OTel SDK
               ``TracerProvider`` + ``BatchSpanProcessor`` + ``InMemorySpanExporter``
               (instrumented just before and uninstrumented just after each of its runs;
               exported spans counted and cleared after each run, off the clock)

What is timed is the agent's wall time per ``graph.invoke`` (what the user waits for).
tracetape's background writer (Parquet spool + fold into DuckDB) is never paused: when it
runs during a timed run it is in that run's time, whichever condition it is. Its CPU
time is measured separately (per thread, so exactly) and reported, as is the time of the
final ``tape.flush()`` after all runs. ``--profile-runs N`` then profiles N tracetape runs
with cProfile and breaks the on-thread cost per span down by tracetape function and by the
library calls tracetape makes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

warnings.filterwarnings("ignore", category=DeprecationWarning)

from langchain_core.callbacks import BaseCallbackHandler  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import (  # noqa: E402
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.runnables import RunnableConfig  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402
from langgraph.graph import START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TRACETAPE_SRC = str(REPO / "src" / "tracetape")
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

CONDITIONS = ("untraced", "noop", "tracetape", "openinference")

# -- the agent ---------------------------------------------------------------------------


@tool
def lookup_order(order_id: str) -> str:
    """Look up an order by id and return its status, items and shipping details."""
    n = sum(map(ord, order_id))
    return json.dumps(
        {
            "order_id": order_id,
            "status": ("shipped", "processing", "delivered")[n % 3],
            "items": [{"sku": f"SKU-{n % 997:04d}", "qty": 1 + n % 3, "price": 19.99}],
            "carrier": "ACME Freight",
            "eta_days": n % 7,
        }
    )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def search_kb(query: str) -> str:
    """Search the internal knowledge base and return the best matching paragraph."""
    return (
        f"Result for {query!r}: refunds are issued to the original payment method within "
        "5-7 business days after the returned item is received and inspected. Orders "
        "shipped internationally may take longer; customs fees are not refundable."
    )


TOOLS = {t.name: t for t in (lookup_order, add, search_kb)}


class ScriptedAgentModel(BaseChatModel):
    """An instant chat model that calls ``n_tool_calls`` tools, then answers.

    Stateless: what it says depends only on the messages it is given (the number of tool
    results so far and a per-run nonce in the first user message), so every run gets
    distinct content (no accidental cross-run deduplication) yet the same shape.
    """

    model_name: str = "fake-agent-model-1"
    n_tool_calls: int = 10

    @property
    def _llm_type(self) -> str:
        return "scripted-agent"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        first = next((m for m in messages if isinstance(m, HumanMessage)), None)
        nonce = str(first.content).rsplit("#", 1)[-1] if first is not None else "0"
        tokens_in = 120 + 40 * done
        usage = {"input_tokens": tokens_in, "output_tokens": 24, "total_tokens": tokens_in + 24}
        if done < self.n_tool_calls:
            name = ("lookup_order", "add", "search_kb")[done % 3]
            args: dict[str, Any] = {
                "lookup_order": {"order_id": f"ORD-{nonce}-{done}"},
                "add": {"a": done, "b": len(nonce)},
                "search_kb": {"query": f"refund policy step {done} ({nonce})"},
            }[name]
            message = AIMessage(
                content=f"Step {done + 1}: I need more information, calling {name}.",
                tool_calls=[
                    {"name": name, "args": args, "id": f"call_{nonce}_{done}", "type": "tool_call"}
                ],
                usage_metadata=usage,
                response_metadata={"finish_reason": "tool_calls", "model_name": self.model_name},
            )
        else:
            message = AIMessage(
                content=f"Order {nonce} was shipped; a refund takes 5-7 business days.",
                usage_metadata=usage,
                response_metadata={"finish_reason": "stop", "model_name": self.model_name},
            )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": self.model_name, "token_usage": usage},
        )


class AgentState(TypedDict):
    messages: Annotated[list[BaseMessage], add_messages]
    question: str


def build_agent(n_tool_calls: int) -> Any:
    texts = [
        f"Policy paragraph {i}: items may be returned within {10 + i} days of delivery if "
        f"unused; shipping label {i} is prepaid for domestic orders; see section {i % 7}."
        for i in range(64)
    ]
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=256))
    store.add_documents(
        [Document(page_content=t, metadata={"source": f"kb/{i}.md"}) for i, t in enumerate(texts)]
    )
    retriever = store.as_retriever(search_kwargs={"k": 4})
    model = ScriptedAgentModel(n_tool_calls=n_tool_calls).bind_tools(list(TOOLS.values()))

    def retrieve(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        docs = retriever.invoke(state["question"], config)
        context = "\n\n".join(d.page_content for d in docs)
        return {"messages": [SystemMessage(content=f"Answer using this context:\n{context}")]}

    def agent(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"], config)]}

    def tools(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        last = state["messages"][-1]
        calls = getattr(last, "tool_calls", None) or []
        return {"messages": [TOOLS[c["name"]].invoke(c, config) for c in calls]}

    def route(state: AgentState) -> Literal["tools", "__end__"]:
        last = state["messages"][-1]
        return "tools" if getattr(last, "tool_calls", None) else "__end__"

    graph = StateGraph(AgentState)
    graph.add_node("retrieve", retrieve)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "agent")
    graph.add_conditional_edges("agent", route)
    graph.add_edge("tools", "agent")
    return graph.compile(name="support_agent")


def agent_input(nonce: int) -> dict[str, Any]:
    question = "Where is my order and how long does a refund take?"
    return {"messages": [HumanMessage(content=f"{question} #{nonce}")], "question": question}


# -- conditions --------------------------------------------------------------------------


class NoopHandler(BaseCallbackHandler):
    """LangChain's floor: a handler whose every hook is inherited and does nothing."""

    run_inline = True


class CountingHandler(BaseCallbackHandler):
    """Counts callback runs (every ``on_*_start``), off the clock."""

    run_inline = True

    def __init__(self) -> None:
        self.starts: dict[str, int] = defaultdict(int)

    def on_chain_start(self, *a: Any, **k: Any) -> None:
        self.starts["chain"] += 1

    def on_chat_model_start(self, *a: Any, **k: Any) -> None:
        self.starts["chat_model"] += 1

    def on_llm_start(self, *a: Any, **k: Any) -> None:
        self.starts["llm"] += 1

    def on_tool_start(self, *a: Any, **k: Any) -> None:
        self.starts["tool"] += 1

    def on_retriever_start(self, *a: Any, **k: Any) -> None:
        self.starts["retriever"] += 1


class OpenInference:
    """OpenInference's LangChain instrumentor feeding an OTel SDK pipeline in memory."""

    def __init__(self) -> None:
        from openinference.instrumentation.langchain import LangChainInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.instrumentor = LangChainInstrumentor()

    def instrument(self) -> None:
        self.instrumentor.instrument(tracer_provider=self.provider)

    def uninstrument(self) -> None:
        self.instrumentor.uninstrument()

    def collect(self) -> tuple[int, int]:
        """(spans, attribute chars) exported since the last call; clears the exporter."""
        self.provider.force_flush()
        spans = self.exporter.get_finished_spans()
        chars = sum(len(k) + len(str(v)) for s in spans for k, v in (s.attributes or {}).items())
        self.exporter.clear()
        return len(spans), chars


def thread_cpu(thread: threading.Thread | None) -> float:
    """CPU seconds a thread has used (Linux/macOS); 0.0 if unknown."""
    if thread is None or thread.ident is None or not thread.is_alive():
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (AttributeError, OSError):
        return 0.0


def git_state() -> str:
    """The commit benchmarked, and whether tracetape's sources differ from it."""
    import subprocess

    def git(*cmd: str) -> str:
        try:
            done = subprocess.run(
                ["git", *cmd], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--", "src")
    return commit + (" + uncommitted changes in src/" if dirty else "")


def writer_thread() -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == "tracetape-writer"), None)


# -- the benchmark -----------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bootstrap_ratio(
    c: Sequence[float],
    b: Sequence[float],
    d: Sequence[float],
    sc: float,
    sd: float,
    rng: random.Random,
) -> tuple[float, float]:
    """95% bootstrap interval of ((med c - med b)/sc) / ((med d - med b)/sd)."""
    ratios = []
    for _ in range(1000):
        mc = statistics.median(rng.choices(c, k=len(c)))
        mb = statistics.median(rng.choices(b, k=len(b)))
        md = statistics.median(rng.choices(d, k=len(d)))
        if md - mb > 0:
            ratios.append(((mc - mb) / sc) / ((md - mb) / sd))
    return (pct(ratios, 0.025), pct(ratios, 0.975)) if ratios else (float("nan"), float("nan"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arg = parser.add_argument
    arg("--rounds", type=int, default=400, help="timed runs per condition (default 400)")
    arg("--warmup", type=int, default=10, help="untimed rounds first (default 10)")
    arg("--tool-calls", type=int, default=10, help="tool calls per agent run (default 10)")
    arg("--profile-runs", type=int, default=100, help="tracetape runs under cProfile (0: skip)")
    arg("--top", type=int, default=25, help="rows per profile table")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import tracetape

    graph = build_agent(args.tool_calls)
    tmp = Path(tempfile.mkdtemp(prefix="tracetape-bench-"))
    tape = tracetape.open(tmp / "b.duckdb")
    handler = tape.langchain()  # installs tracetape's process-wide tool/retriever/embedding
    #                             wrappers now, so every condition runs with them
    noop = NoopHandler()
    oi = OpenInference()
    nonce = iter(range(10**9))

    def run(condition: str) -> float:
        callbacks: list[Any] = {"noop": [noop], "tracetape": [handler]}.get(condition, [])
        config: RunnableConfig = {"recursion_limit": 100}
        if callbacks:
            config["callbacks"] = callbacks
        inputs = agent_input(next(nonce))
        if condition == "openinference":
            oi.instrument()
        try:
            t0 = time.perf_counter()
            graph.invoke(inputs, config=config)
            return time.perf_counter() - t0
        finally:
            if condition == "openinference":
                oi.uninstrument()

    # Shape of one run: callback runs, and what each tracer records.
    counter = CountingHandler()
    graph.invoke(agent_input(next(nonce)), config={"callbacks": [counter], "recursion_limit": 100})
    callback_runs = sum(counter.starts.values())
    run("openinference")
    oi_spans, oi_chars = oi.collect()
    run("untraced")
    leaked, _ = oi.collect()
    if leaked:
        raise SystemExit(f"OpenInference still recorded {leaked} spans after uninstrument()")

    print(
        f"tracetape overhead benchmark at {git_state()}: python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, "
        f"{args.rounds} rounds x {len(CONDITIONS)} conditions (shuffled per round), "
        f"{args.warmup} warm-up rounds"
    )
    print(
        f"agent run: {callback_runs} LangChain callback runs "
        f"({', '.join(f'{k} {v}' for k, v in sorted(counter.starts.items()))})"
    )

    rng = random.Random(args.seed)
    times: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    writer_cpu_during: dict[str, float] = dict.fromkeys(CONDITIONS, 0.0)
    oi_counts: list[int] = []
    gc.collect()
    started = time.perf_counter()
    for r in range(args.warmup + args.rounds):
        order = list(CONDITIONS)
        rng.shuffle(order)
        for condition in order:
            writer = writer_thread()
            cpu0 = thread_cpu(writer)
            elapsed = run(condition)
            if r >= args.warmup:
                times[condition].append(elapsed)
                writer_cpu_during[condition] += max(0.0, thread_cpu(writer) - cpu0)
            if condition == "openinference":
                n, _ = oi.collect()
                if r >= args.warmup:
                    oi_counts.append(n)
    loop_seconds = time.perf_counter() - started

    writer = writer_thread()
    writer_cpu_total = thread_cpu(writer)
    t0 = time.perf_counter()
    flushed = tape.flush()
    flush_seconds = time.perf_counter() - t0
    per_trace = tape.sql(
        "select trace_id, count(*) as n, sum(length(attributes::varchar)) as chars "
        "from spans group by trace_id"
    )
    tt_runs = len(per_trace)
    tt_spans = int(per_trace.n.median())
    tt_chars = int(per_trace.chars.median())
    tt_total_spans = int(per_trace.n.sum())
    blob_chars = int(tape.sql("select coalesce(sum(size), 0) as n from blobs").n.iloc[0])
    kinds = tape.sql(
        "select kind, count(*) // count(distinct trace_id) as n from spans "
        "group by kind order by kind"
    )
    oi_spans = int(statistics.median(oi_counts)) if oi_counts else oi_spans

    med = {c: statistics.median(v) * 1e3 for c, v in times.items()}
    mean = {c: statistics.fmean(v) * 1e3 for c, v in times.items()}
    spans = {"noop": callback_runs, "tracetape": tt_spans, "openinference": oi_spans}
    added = {
        "tracetape": (med["tracetape"] - med["noop"]) * 1e3 / tt_spans,
        "openinference": (med["openinference"] - med["noop"]) * 1e3 / oi_spans,
    }

    print(f"\ntimed loop: {loop_seconds:.1f} s")
    print(
        f"\n{'condition':<14}{'median ms':>10}{'p10 ms':>9}{'p90 ms':>9}{'mean ms':>9}"
        f"{'spans/run':>11}{'+µs/span vs noop':>18}{'+ms/run vs noop':>17}"
    )
    for c in CONDITIONS:
        n = spans.get(c)
        extra = f"{added[c]:>18.0f}" if c in added else f"{'':>18}"
        extra_run = f"{med[c] - med['noop']:>17.2f}" if c != "untraced" else f"{'':>17}"
        n_text = f"{n}" + (" cb" if c == "noop" else "") if n is not None else "-"
        print(
            f"{c:<14}{med[c]:>10.2f}{pct(times[c], 0.1) * 1e3:>9.2f}"
            f"{pct(times[c], 0.9) * 1e3:>9.2f}{mean[c]:>9.2f}{n_text:>11}{extra}{extra_run}"
        )
    noop_us = (med["noop"] - med["untraced"]) * 1e3 / callback_runs
    print(f"\nno-op handler floor: {noop_us:.0f} µs per callback run over untraced")
    ratio = added["tracetape"] / added["openinference"]
    lo, hi = bootstrap_ratio(
        times["tracetape"], times["noop"], times["openinference"], tt_spans, oi_spans, rng
    )
    per_run_ratio = (med["tracetape"] - med["noop"]) / (med["openinference"] - med["noop"])
    verdict = "meets" if ratio <= 0.5 else "MISSES"
    print(
        f"tracetape / OpenInference, added µs per span: {ratio:.2f} "
        f"(95% bootstrap {lo:.2f}-{hi:.2f}) -> {verdict} the bar (<= 0.50)"
    )
    print(f"tracetape / OpenInference, added ms per agent run: {per_run_ratio:.2f}")
    print(
        f"recorded per run: tracetape {tt_spans} spans, {tt_chars / 1e3:.1f}k chars of attributes "
        f"+ {blob_chars / tt_runs / 1e3:.1f}k chars of replay payloads (once per content); "
        f"OpenInference {oi_spans} spans, {oi_chars / 1e3:.1f}k chars of attributes"
    )
    print(
        "tracetape spans per run by kind: "
        + ", ".join(f"{k} {n}" for k, n in zip(kinds.kind, kinds.n, strict=True))
    )
    print(
        f"\ntracetape background writer (spool + fold), CPU: {writer_cpu_total * 1e3:.0f} ms for "
        f"{tt_total_spans} spans = {writer_cpu_total * 1e6 / max(tt_total_spans, 1):.0f} µs/span "
        f"(off the agent's thread; timed runs it overlapped: "
        + ", ".join(f"{c} {writer_cpu_during[c] * 1e3:.0f} ms" for c in CONDITIONS)
        + ")"
    )
    print(
        f"tracetape final flush after all runs: {flush_seconds * 1e3:.0f} ms "
        f"(tape.flush() returned {flushed}; the tape then held {tt_runs} traces, "
        f"{tt_total_spans} spans)"
    )

    tape.close()
    if args.profile_runs > 0:
        profile(graph, nonce, args.profile_runs, args.top)


# -- profile -----------------------------------------------------------------------------

Func = tuple[str, int, str]
# tracetape code that only passes through to the user's code (it sets a context variable
# and calls the tool / retriever / embedder): its inclusive time is not tracetape's cost.
PASS_THROUGH = {("_inject.py", "wrapper"), ("embeddings.py", "wrapper")}


def _ours(func: Func) -> bool:
    return func[0].startswith(TRACETAPE_SRC)


def _pass_through(func: Func) -> bool:
    return _ours(func) and (Path(func[0]).name, func[2]) in PASS_THROUGH


def _label(func: Func) -> str:
    path, line, name = func
    if path.startswith(TRACETAPE_SRC):
        path = "tracetape" + path[len(TRACETAPE_SRC) :]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python" in path:
        path = "stdlib/" + path.split("/lib/python", 1)[1].split("/", 1)[1]
    elif path == "~":
        return name
    return f"{path}:{line}({name})"


def profile(graph: Any, nonce: Any, n_runs: int, top: int) -> None:
    """cProfile the recording thread over ``n_runs``, then the spool write + fold."""
    import tracetape

    # A tape whose writer never wakes during the runs, so the recording thread's profile
    # is clean and the background work can be profiled afterwards, in this thread.
    os.environ["TRACETAPE_FLUSH_INTERVAL"] = "3600"
    os.environ["TRACETAPE_QUEUE_SPANS"] = "10000000"
    os.environ["TRACETAPE_BATCH_SPANS"] = "10000000"
    tape = tracetape.open(Path(tempfile.mkdtemp(prefix="tracetape-prof-")) / "p.duckdb")
    config: RunnableConfig = {"callbacks": [tape.langchain()], "recursion_limit": 100}
    for _ in range(3):
        graph.invoke(agent_input(next(nonce)), config=config)
    tape.flush()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(n_runs):
        graph.invoke(agent_input(next(nonce)), config=config)
    prof.disable()
    wall = time.perf_counter() - t0
    writer = cProfile.Profile()
    writer.enable()
    n_spans = tape.flush()
    writer.disable()
    tape.close()

    def us(seconds: float) -> str:
        return f"{seconds * 1e6 / n_spans:8.1f}"

    raw: dict[Func, Any] = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    print(
        f"\n== cProfile, recording thread: {n_runs} tracetape runs, {n_spans} spans, "
        f"{wall:.1f} s under the profiler (cProfile inflates many small Python calls about "
        f"2x: read shares, not absolutes) =="
    )
    hooks = sum(
        ct
        for func, (_cc, _nc, _tt, ct, _callers) in raw.items()
        if _ours(func) and func[2] == "wrapper" and func[0].endswith("_safety.py")
    )
    wrappers_own = sum(v[2] for f, v in raw.items() if _pass_through(f))
    own = sum(v[2] for f, v in raw.items() if _ours(f))
    # Library calls made directly from tracetape code (caller ours, callee not). A callee
    # that calls back into tracetape (str.join over our generator, the user's tool under
    # our pass-through wrapper) would count our code twice: those are left out.
    back: set[Func] = {c for f, v in raw.items() if _ours(f) for c in v[4] if not _ours(c)}
    boundary: dict[Func, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for func, (_cc, _nc, _tt, _ct, callers) in raw.items():
        if _ours(func) or func in back:
            continue
        for caller, edge in callers.items():
            if _ours(caller) and not _pass_through(caller):
                boundary[func][0] += edge[3]
                boundary[func][1] += edge[1]
    library = sum(v[0] for v in boundary.values())
    print(
        f"callback hooks, inclusive: {us(hooks).strip()} µs/span (+ pass-through wrappers' own "
        f"time {us(wrappers_own).strip()}); of all tracetape code: own lines "
        f"{us(own).strip()} µs/span, library calls it makes {us(library).strip()} µs/span"
    )
    print(f"\n-- tracetape functions by inclusive time, µs per span (top {top}) --")
    print(f"{'cum µs':>8}{'own µs':>9}{'calls/span':>11}  function")
    ours = sorted(
        ((f, v) for f, v in raw.items() if _ours(f) and not _pass_through(f)),
        key=lambda item: item[1][3],
        reverse=True,
    )
    for func, (_cc, nc, tt, ct, _callers) in ours[:top]:
        print(f"{us(ct)}{us(tt)} {nc / n_spans:10.2f}  {_label(func)}")
    print(f"\n-- library calls made from tracetape code, inclusive, µs per span (top {top}) --")
    print(f"{'cum µs':>8}{'calls/span':>11}  callee")
    ranked = sorted(boundary.items(), key=lambda item: item[1][0], reverse=True)
    for func, (ct, nc) in ranked[:top]:
        print(f"{us(ct)} {nc / n_spans:10.2f}  {_label(func)}")

    wraw: dict[Func, Any] = pstats.Stats(writer).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in wraw.values())
    print(
        f"\n== cProfile, background writer's work (run here by tape.flush()): {n_spans} spans, "
        f"{us(total).strip()} µs/span under the profiler =="
    )
    print(f"{'cum µs':>8}{'own µs':>9}{'calls/span':>11}  function (top {top} by inclusive)")
    rows = sorted(wraw.items(), key=lambda item: item[1][3], reverse=True)
    shown = 0
    for func, (_cc, nc, tt, ct, _callers) in rows:
        if func[2] in ("flush", "force_flush", "_drain") or "cProfile" in func[0]:
            continue
        print(f"{us(ct)}{us(tt)} {nc / n_spans:10.2f}  {_label(func)}")
        shown += 1
        if shown >= top:
            break


if __name__ == "__main__":
    main()
