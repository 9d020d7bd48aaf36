"""The span tree renderings: labels, trees, plain text, `Trace` display protocols."""

from __future__ import annotations

import math

import pandas as pd
from rich.tree import Tree

from tracetape.inspect.render.text import (
    format_duration,
    format_tokens,
    shorten,
    span_label,
    to_plain,
    value,
)
from tracetape.inspect.trace import Trace

TRACE_ID = "ab" * 16


def _span(span_id: str, parent: str | None, name: str, kind: str, **extra: object) -> dict:
    row = {
        "trace_id": TRACE_ID,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "kind": kind,
        "start_time": pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(seconds=int(span_id)),
        "duration_ms": 1.5,
        "status": "ok",
        "status_message": None,
        "error_type": None,
        "model": None,
        "tool_name": None,
        "input": None,
        "output": None,
        "input_tokens": math.nan,
        "output_tokens": math.nan,
    }
    row.update(extra)
    return row


def _trace() -> Trace:
    rows = [
        _span("1", None, "agent", "graph", duration_ms=1234.5),
        _span("2", "1", "chat", "llm", model="m-1", input_tokens=10.0, output_tokens=2.0),
        _span(
            "3",
            "1",
            "lookup",
            "tool",
            tool_name="lookup",
            status="error",
            error_type="KeyError",
            status_message="no such order",
            input='{"id": "Z"}',
            output=None,
        ),
        _span("4", "3", "inner", "chain", input='"x"', output='{"a": 1}'),
    ]
    return Trace(TRACE_ID, pd.DataFrame(rows))


def test_formats():
    assert format_duration(math.nan) == ""
    assert format_duration(12.34) == "12.3 ms"
    assert format_duration(1234.5) == "1.23 s"
    assert format_tokens(math.nan, None) == ""
    assert format_tokens(10.0, math.nan) == "10→? tok"
    assert format_tokens(10, 2, unit="") == "10→2"
    assert shorten("abcdef", 4) == "abcd… [+2 chars]"
    assert shorten("abc", 4) == "abc"
    assert value(pd.NA) is None and value(pd.NaT) is None and value([1]) == [1]


def test_label_shows_model_tokens_and_error():
    assert span_label(_span("2", None, "chat", "llm", model="m-1", input_tokens=3)).plain == (
        "chat  llm  m-1  1.5 ms  3→? tok"
    )
    error = _span("3", None, "t", "tool", status="error", error_type="E", status_message="boom")
    label = span_label(error)
    assert label.plain == "t  tool  1.5 ms  ✗ E: boom"
    assert any("red" in str(span.style) for span in label.spans)


def test_tree_plain_text():
    trace = _trace()
    assert isinstance(trace.tree(), Tree)
    assert trace.text(width=120).splitlines() == [
        f"trace {TRACE_ID}  4 spans  1 error",
        "└── agent  graph  1.23 s",
        "    ├── chat  llm  m-1  1.5 ms  10→2 tok",
        '    └── lookup  tool  {"id": "Z"}  1.5 ms  ✗ KeyError: no such order',
        "        └── inner  chain  1.5 ms",
    ]


def test_full_tree_adds_inputs_and_outputs_cut_and_marked():
    text = to_plain(_trace().tree(full=True, max_chars=5), width=120)
    assert '        ├── input: {"id"… [+6 chars]' in text
    assert "            ├── input: x" in text
    assert '            └── output: {"a":… [+3 chars]' in text


def test_display_protocols():
    trace = _trace()
    assert trace.__rich__().label is not None
    bundle = trace._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"].startswith(f"trace {TRACE_ID}")
    assert trace.llm_calls.name.tolist() == ["chat"]
    assert trace.tool_calls.name.tolist() == ["lookup"]
    assert trace.root["name"] == "agent"
