"""What playback costs: a recorded 20-step agent replayed from the tape vs. run untraced.

Run by hand (never in tests), from the repository root:

    .venv/bin/python benchmarks/replay.py                       # ~1 min on 2 cores
    .venv/bin/python benchmarks/replay.py --rounds 10 --profile 0   # a quick look

A hand-written LangGraph agent (``ChatPromptTemplate | model.bind_tools`` in a model
node, LangGraph's ``ToolNode`` and ``tools_condition``; fully offline) whose instant fake
tool-calling model calls one tool per turn 19 times, then answers: 20 model calls and 19
tool calls per run. One run is recorded into a tape in a temp dir; then every round of
ONE process runs, in a shuffled order so that machine noise hits all of them alike:

  untraced   ``graph.invoke`` with no callbacks
  traced     the same with ``config={"callbacks": [tape.langchain()]}``: what recording
             alone costs (playback records the replay the same way)
  playback   ``tape.replay(trace_id, app=graph)`` of a trace this tape replayed before
             (the counterfactual loop: edit, replay, edit again): the recording is kept
             in memory; re-runs the graph with every call answered from it, records it
  first      the same for a trace not replayed yet: reads and revives the recording
             from the tape first (the kept one is dropped before, untimed)
  read       reading and reviving the recording alone (part of a first playback)

What is timed is the wall time of each call (what the user waits for). A traced run and
a replay both leave their spans to the background writer; after each call, untimed, the
queue is written to the spool so that no call pays for another's spans; that write is
shown as "then written". The bar of the issue: playback median at most 2x the untraced
median; "paired x" is the median over rounds of each round's own ratio (steadier on
a noisy machine), and the verdict asks both to meet it. ``--profile N`` then profiles
N playbacks with cProfile: tracetape functions by inclusive time and the rest by own
time.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", category=DeprecationWarning)

from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_core.utils.function_calling import convert_to_openai_tool  # noqa: E402
from langgraph.graph import START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import ToolNode, tools_condition  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from overhead import git_state, pct  # noqa: E402

CONDITIONS = ("untraced", "traced", "playback", "first", "read")

# -- the agent ---------------------------------------------------------------------------


@tool
def lookup_order(order_id: str) -> str:
    """Look up an order by id and return its status."""
    return f'{{"order_id": "{order_id}", "status": "shipped", "carrier": "ACME Freight"}}'


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def search_kb(query: str) -> str:
    """Search the internal knowledge base and return the best matching paragraph."""
    return (
        f"Result for {query!r}: refunds are issued to the original payment method within "
        "5-7 business days after the returned item is received and inspected."
    )


TOOLS = [lookup_order, add, search_kb]


class StepModel(BaseChatModel):
    """An instant chat model that calls one tool per turn ``n_tool_calls`` times, then
    answers. Stateless: what it says depends only on the tool results so far."""

    model_name: str = "fake-step-model-1"
    n_tool_calls: int = 19

    @property
    def _llm_type(self) -> str:
        return "fake-step-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
    ) -> ChatResult:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        usage = {"input_tokens": 100 + 30 * done, "output_tokens": 20, "total_tokens": 0}
        if done < self.n_tool_calls:
            name = ("lookup_order", "add", "search_kb")[done % 3]
            args: dict[str, Any] = {
                "lookup_order": {"order_id": f"ORD-{done}"},
                "add": {"a": done, "b": 7},
                "search_kb": {"query": f"refund policy, step {done}"},
            }[name]
            message = AIMessage(
                content=f"Step {done + 1}: calling {name}.",
                tool_calls=[{"name": name, "args": args, "id": f"call_{done}"}],
                usage_metadata=usage,
            )
        else:
            message = AIMessage(content="Your order shipped; refunds take 5-7 days.")
        return ChatResult(generations=[ChatGeneration(message=message)])


def build_agent(n_tool_calls: int) -> Any:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a support agent. Use the tools."), MessagesPlaceholder("messages")]
    )
    chain = prompt | StepModel(n_tool_calls=n_tool_calls).bind_tools(TOOLS)

    def model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [chain.invoke(state)]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", model)
    graph.add_node("tools", ToolNode(TOOLS))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    return graph.compile(name="support_agent")


QUESTION = {"messages": [("user", "Where is order ORD-7 and how do refunds work?")]}

# -- the benchmark -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arg = parser.add_argument
    arg("--rounds", type=int, default=60, help="timed runs per condition (default 60)")
    arg("--warmup", type=int, default=5, help="untimed rounds first (default 5)")
    arg("--tool-calls", type=int, default=19, help="tool calls per agent run (default 19)")
    arg("--profile", type=int, default=20, help="playbacks under cProfile (0: skip)")
    arg("--top", type=int, default=25, help="rows per profile table")
    arg("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import tracetape
    from tracetape.replay import recording

    graph = build_agent(args.tool_calls)
    tmp = Path(tempfile.mkdtemp(prefix="tracetape-bench-"))
    tape = tracetape.open(tmp / "replay.duckdb")
    handler = tape.langchain()
    recorded = graph.invoke(QUESTION, config={"callbacks": [handler], "recursion_limit": 100})
    tape.flush()
    trace_id = str(tape.traces().trace_id[0])
    shape = tape.sql("select n_spans, n_llm, n_tool from traces where trace_id = ?", [trace_id])
    first = tape.replay(trace_id, app=graph)
    if not first.same_output or first.output["messages"][-1] != recorded["messages"][-1]:
        raise SystemExit("playback did not give the recorded output")
    source = tape._source()  # pyright: ignore[reportPrivateUsage]

    runs: dict[str, Callable[[], object]] = {
        "untraced": lambda: graph.invoke(QUESTION, config={"recursion_limit": 100}),
        "traced": lambda: graph.invoke(
            QUESTION, config={"callbacks": [handler], "recursion_limit": 100}
        ),
        "playback": lambda: tape.replay(trace_id, app=graph),
        "first": lambda: tape.replay(trace_id, app=graph),
        "read": lambda: recording.read(source.query, trace_id),
    }
    kept = tape._recordings  # pyright: ignore[reportPrivateUsage]
    row = shape.iloc[0]
    print(
        f"tracetape replay benchmark at {git_state()}: python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, {args.rounds} rounds x {len(CONDITIONS)} conditions "
        f"(shuffled per round), {args.warmup} warm-up rounds"
    )
    print(
        f"recorded agent run: {row.n_llm} model calls, {row.n_tool} tool calls, "
        f"{row.n_spans} spans; playback answered {first.from_tape} calls from the tape"
    )

    rng = random.Random(args.seed)
    times: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    written: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    gc.collect()
    for r in range(args.warmup + args.rounds):
        order = list(CONDITIONS)
        rng.shuffle(order)
        for condition in order:
            if condition == "first":
                kept.forget()
            t0 = time.perf_counter()
            runs[condition]()
            t1 = time.perf_counter()
            tape._spool()  # pyright: ignore[reportPrivateUsage]
            t2 = time.perf_counter()
            if r >= args.warmup:
                times[condition].append(t1 - t0)
                written[condition].append(t2 - t1)

    med = {c: statistics.median(v) * 1e3 for c, v in times.items()}
    # Each round runs every condition back to back: its own ratio to that round's
    # untraced run cancels what drifts between rounds (a busy neighbour on a VM).
    paired = {
        c: statistics.median(t / u for t, u in zip(times[c], times["untraced"], strict=True))
        for c in CONDITIONS
    }
    print(
        f"\n{'condition':<12}{'median ms':>10}{'p10 ms':>9}{'p90 ms':>9}{'x untraced':>12}"
        f"{'paired x':>10}{'then written ms':>17}"
    )
    for c in CONDITIONS:
        print(
            f"{c:<12}{med[c]:>10.2f}{pct(times[c], 0.1) * 1e3:>9.2f}"
            f"{pct(times[c], 0.9) * 1e3:>9.2f}{med[c] / med['untraced']:>12.2f}"
            f"{paired[c]:>10.2f}{statistics.median(written[c]) * 1e3:>17.2f}"
        )
    for c in ("playback", "first"):
        ratio = med[c] / med["untraced"]
        verdict = "meets" if max(ratio, paired[c]) <= 2.0 else "MISSES"
        print(
            f"\n{c} / untraced: {ratio:.2f} (paired by round: {paired[c]:.2f}) -> {verdict} "
            "the bar (<= 2.00, both ways)",
            end="",
        )
    print(
        f"\nplayback / traced: {med['playback'] / med['traced']:.2f} (recording alone: "
        f"{med['traced'] / med['untraced']:.2f}x untraced; reading the recording: "
        f"{med['read']:.1f} ms of a first playback)"
    )

    if args.profile > 0:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.profile):
            tape.replay(trace_id, app=graph)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"\ncProfile of {args.profile} playbacks, ms per playback (cProfile inflates)")
        rows = stats.stats  # pyright: ignore[reportAttributeAccessIssue]
        inclusive = [(v[3], k) for k, v in rows.items() if "/tracetape/" in k[0]]
        ours = sorted(inclusive, reverse=True)[: args.top]
        print("tracetape functions by inclusive time:")
        for cum, (file, line, name) in ours:
            short = file.split("/tracetape/", 1)[1]
            print(f"  {cum * 1e3 / args.profile:8.2f}  {short}:{line} {name}")
        own = sorted(((v[2], k) for k, v in rows.items()), reverse=True)[: args.top]
        print("all functions by own time:")
        for tot, (file, line, name) in own:
            print(f"  {tot * 1e3 / args.profile:8.2f}  {Path(file).name}:{line} {name}")
    tape.close()


if __name__ == "__main__":
    main()
