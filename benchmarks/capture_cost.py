"""Where recording time goes: the tape handler's own time per LangChain callback.

Run by hand (never in tests), from the repository root:

    .venv/bin/python benchmarks/capture_cost.py              # 30 runs, ~15 s on 2 cores
    .venv/bin/python benchmarks/capture_cost.py --runs 60

Runs the 20-step agent of ``replay.py`` (20 model calls, 19 tool calls, 139 spans)
untraced and traced alternately in one process, and wraps each ``on_*`` method of the
tape's LangChain handler with a wall-clock timer (the wrapper adds well under 1 µs per
callback). Prints both medians, then per callback: calls per run, ms per run and µs per
call, and the handler's total ms per run. The handler's time is what recording adds in
the agent's threads; the background writer's work (Arrow, Parquet) is not in it.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", category=DeprecationWarning)

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from replay import QUESTION, build_agent  # noqa: E402


def _timed(
    fn: Callable[..., Any],
    name: str,
    spent: collections.Counter[str],
    calls: collections.Counter[str],
) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter_ns() - t0
            calls[name] += 1

    return wrapper


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="traced runs timed (default 30)")
    parser.add_argument("--tool-calls", type=int, default=19)
    args = parser.parse_args(argv)

    import tracetape
    from tracetape.capture.langchain.handler import TracetapeCallbackHandler

    spent: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for name in [n for n in vars(TracetapeCallbackHandler) if n.startswith("on_")]:
        setattr(
            TracetapeCallbackHandler,
            name,
            _timed(getattr(TracetapeCallbackHandler, name), name, spent, calls),
        )
    graph = build_agent(args.tool_calls)
    tape = tracetape.open(Path(tempfile.mkdtemp(prefix="tracetape-bench-")) / "c.duckdb")
    traced: dict[str, Any] = {"callbacks": [tape.langchain()], "recursion_limit": 100}
    untraced: dict[str, Any] = {"recursion_limit": 100}
    for _ in range(5):
        graph.invoke(QUESTION, config=traced)
    spent.clear()
    calls.clear()
    times: dict[str, list[float]] = {"untraced": [], "traced": []}
    for _ in range(args.runs):
        for label, config in (("untraced", untraced), ("traced", traced)):
            t0 = time.perf_counter()
            graph.invoke(QUESTION, config=config)
            times[label].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    n = args.runs
    print(
        f"untraced {med['untraced']:.1f} ms, traced {med['traced']:.1f} ms "
        f"({med['traced'] / med['untraced']:.2f}x), {n} runs each"
    )
    print(f"{'callback':<24}{'calls/run':>10}{'ms/run':>9}{'µs/call':>9}")
    for name, ns in spent.most_common():
        print(
            f"{name:<24}{calls[name] / n:>10.0f}{ns / n / 1e6:>9.2f}{ns / calls[name] / 1e3:>9.1f}"
        )
    print(f"handler total: {sum(spent.values()) / n / 1e6:.2f} ms per traced run")
    tape.close()


if __name__ == "__main__":
    main()
