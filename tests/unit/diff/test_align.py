"""Alignment by signature with difflib.SequenceMatcher."""

from __future__ import annotations

from tracetape.diff.align import align


def test_matching_runs_pair_and_the_rest_is_on_one_side() -> None:
    a = ["agent", "llm", "tools", "add", "agent", "llm"]
    b = ["agent", "llm", "tools", "add", "agent", "llm", "tools", "mul", "agent", "llm"]

    pairs = align(a, b, str)

    assert pairs[:6] == list(zip(a, b[:6], strict=True))
    assert pairs[6:] == [(None, "tools"), (None, "mul"), (None, "agent"), (None, "llm")]


def test_a_replaced_step_is_one_removed_and_one_added() -> None:
    assert align(["llm", "search", "llm"], ["llm", "lookup", "llm"], str) == [
        ("llm", "llm"),
        ("search", None),
        (None, "lookup"),
        ("llm", "llm"),
    ]


def test_items_pair_by_signature_not_by_value() -> None:
    a = [("llm", "gpt-4o"), ("tool", "add")]
    b = [("llm", "gpt-5"), ("tool", "add")]

    assert align(a, b, lambda step: step[0]) == list(zip(a, b, strict=True))
    assert align([], [1], str) == [(None, 1)]


def test_a_run_s_traces_pair_by_question_wherever_they_ran() -> None:
    from tracetape.diff.build import pair_traces
    from tracetape.diff.steps import TraceSteps

    def trace(question: str, name: str = "qa") -> TraceSteps:
        return TraceSteps(question, name, question, None, None, None, None, ())

    a = [trace("cats"), trace("bees"), trace("dogs"), trace("ingest", "index")]
    b = [trace("bees"), trace("dogs?"), trace("cats"), trace("fish"), trace("ingest", "index")]

    pairs = pair_traces(a, b)

    assert [(x and x.trace_id, y and y.trace_id) for x, y in pairs] == [
        ("cats", "cats"),
        ("bees", "bees"),
        ("dogs", "dogs?"),  # an edited question keeps its slot
        ("ingest", "ingest"),
        (None, "fish"),
    ]
