"""The HTML view on hand-built span frames: structure, content, escaping, size."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from tracetape.inspect.render import html as html_view
from tracetape.inspect.render.html import page, span_html, trace_html
from tracetape.inspect.trace import Trace

TRACE_ID = "ef" * 16
T0 = pd.Timestamp("2025-01-01", tz="UTC")
HOSTILE = '</pre></details><script>alert("x")</script><img src=x onerror="alert(1)">'


def _span(n: int, parent: int | None, name: str, kind: str, **extra: object) -> dict:
    row = {
        "trace_id": TRACE_ID,
        "span_id": f"{n:016x}",
        "parent_span_id": None if parent is None else f"{parent:016x}",
        "name": name,
        "kind": kind,
        "start_time": T0 + pd.Timedelta(milliseconds=10 * n),
        "end_time": T0 + pd.Timedelta(milliseconds=10 * n + 5),
        "duration_ms": 5.0,
        "status": "ok",
        "status_message": None,
        "error_type": None,
        "model": None,
        "tool_name": None,
        "input": None,
        "output": None,
        "attributes": "{}",
        "input_tokens": math.nan,
        "output_tokens": math.nan,
    }
    row.update(extra)
    return row


def _msg(role: str, *parts: dict, **extra: object) -> dict:
    return {"role": role, "parts": list(parts), **extra}


def _text(content: str) -> dict:
    return {"type": "text", "content": content}


CALL = {"type": "tool_call", "id": "call_7", "name": "lookup_order", "arguments": {"id": "Z-9"}}
PROMPT_ATTRS = {
    "tracetape.prompt.template": [
        {"role": "system", "template": "You help {shop} customers.", "format": "f-string"},
        {"role": "placeholder", "variable": "messages", "optional": False},
    ],
    "tracetape.prompt.variable_values": {"shop": "Kettle & Mug"},
    "tracetape.prompt.hash": "sha256:abc123",
    "tracetape.prompt.template_format": "f-string",
}
RETRIEVER_ATTRS = {
    "tracetape.retriever.class": "VectorStoreRetriever",
    "tracetape.retriever.search_type": "mmr",
    "tracetape.retriever.search_kwargs": {"k": 2, "filter": {"topic": "refunds"}},
}
LLM_ATTRS = {
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "tracetape.model.system_fingerprint": "fp_9f1",
    "tracetape.model.invocation_params": {"temperature": 0.2},
    "gen_ai.input.messages": "(duplicate of input)",
}


def _rows() -> list[dict]:
    return [
        _span(
            1, None, "agent", "graph", duration_ms=80.0, end_time=T0 + pd.Timedelta(milliseconds=90)
        ),
        _span(2, 1, "prompt", "prompt", attributes=json.dumps(PROMPT_ATTRS)),
        _span(
            3,
            1,
            "ChatOpenAI",
            "llm",
            model="gpt-4o-2024-08-06",
            input_tokens=12.0,
            output_tokens=3.0,
            input=json.dumps([_msg("system", _text("Be brief.")), _msg("user", _text("Where?"))]),
            output=json.dumps([_msg("assistant", CALL, finish_reason="tool_calls")]),
            attributes=json.dumps(LLM_ATTRS),
        ),
        _span(
            4,
            1,
            "lookup_order",
            "tool",
            tool_name="lookup_order",
            input=json.dumps({"id": "Z-9"}),
            output=json.dumps(HOSTILE),
        ),
        _span(
            5,
            4,
            "VectorStoreRetriever",
            "retriever",
            input=json.dumps("refund policy"),
            output=json.dumps(
                [{"id": "faq-7", "content": "30 days", "metadata": {"topic": "x"}, "score": 0.91}]
            ),
            attributes=json.dumps(RETRIEVER_ATTRS),
        ),
        _span(
            6,
            1,
            'evil" onmouseover="alert(1)',
            "tool",
            status="error",
            error_type="shop.OrderNotFoundError",
            status_message="no order <Z-9>",
        ),
    ]


@pytest.fixture
def trace() -> Trace:
    scores = pd.DataFrame(
        [
            {"trace_id": TRACE_ID, "span_id": None, "name": "helpful", "value": 0.0, "label": None},
            {"trace_id": TRACE_ID, "span_id": f"{3:016x}", "name": "tone", "value": 0.5},
        ]
    )
    return Trace(TRACE_ID, pd.DataFrame(_rows()), scores)


class _Balance(HTMLParser):
    """Checks that every element is closed in order; collects ids, tags and attributes."""

    VOID = frozenset({"input", "br", "img", "meta", "hr", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)
        self.ids.extend(v for k, v in attrs if k == "id" and v)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-6:])
        self.stack.pop()


def _parse(fragment: str) -> _Balance:
    parser = _Balance()
    parser.feed(fragment)
    parser.close()
    assert parser.stack == []
    return parser


def _body_of(fragment: str, span_number: int) -> str:
    start = fragment.index(f'data-span-id="{span_number:016x}"')
    return fragment[start : fragment.index('<div class="tt-children">', start)]


def test_structure_is_balanced_and_ids_are_unique_per_rendering(trace):
    first, second = trace_html(trace), trace_html(trace)
    parsed = _parse(first)
    assert len(parsed.ids) == len(set(parsed.ids))
    assert not set(parsed.ids) & set(_parse(second).ids)  # two views on one page never clash
    assert parsed.tags.count("details") >= 6 and parsed.tags.count("summary") >= 6
    assert parsed.tags.count("script") == 1  # ours, and only ours


def test_recorded_content_is_escaped(trace):
    fragment = trace_html(trace)
    parsed = _parse(fragment)
    assert "img" not in parsed.tags
    assert not {"onerror", "onmouseover", "src", "href"} & set(parsed.attributes)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in fragment
    assert "no order &lt;Z-9&gt;" in fragment
    assert 'title="evil&quot; onmouseover=&quot;alert(1)"' in fragment


def test_nothing_is_loaded_from_anywhere(trace):
    fragment = trace_html(trace)
    assert not {"src", "href", "srcset", "action"} & set(_parse(fragment).attributes)
    code = re.findall(r"<(style|script)>(.*?)</\1>", fragment, flags=re.DOTALL)
    assert len(code) == 2
    for _, text in code:
        assert not re.search(r"(?i)url\(|@import|https?:|//|fetch|XMLHttpRequest|import\(", text)


def test_rows_show_kind_name_model_tokens_status_and_a_bar(trace):
    fragment = trace_html(trace)
    llm_row = _body_of(fragment, 3).split("</summary>")[0]
    assert '<span class="tt-kind">llm</span>' in llm_row
    assert "ChatOpenAI" in llm_row and "gpt-4o-2024-08-06" in llm_row
    assert "12→3 tok" in llm_row and "★ tone=0.5" in llm_row
    # The trace runs from 10 ms to 90 ms; the model call from 30 ms, 5 ms long.
    assert 'class="tt-bar" style="left:25.000%;width:6.250%"' in llm_row
    error_row = _body_of(fragment, 6)
    assert "tt-failed" in fragment[fragment.index(f'data-span-id="{6:016x}"') - 80 :][:80]
    assert "✗ OrderNotFoundError: no order &lt;Z-9&gt;" in error_row.split("</summary>")[0]
    head = fragment[: fragment.index('<div class="tt-row tt-axis">')]
    assert "✗ 1 error" in head and "★ helpful=0" in head and "12→3 tok" in head


def test_opening_a_span_shows_what_its_kind_needs(trace):
    fragment = trace_html(trace)
    llm = _body_of(fragment, 3)
    assert "tt-role-system" in llm and "Be brief." in llm and "Where?" in llm
    assert "→ calls <b>lookup_order</b>" in llm and "finish: tool_calls" in llm
    assert "fp_9f1" in llm and "gpt-4o" in llm and "invocation params" in llm
    assert "(shown above as input/output)" in llm  # gen_ai.input.messages is not repeated

    prompt = _body_of(fragment, 2)
    assert '<span class="tt-var">{shop}</span>' in prompt
    assert "Kettle &amp; Mug" in prompt and "sha256:abc123" in prompt
    assert '<span class="tt-var">{messages}</span>' in prompt

    retriever = _body_of(fragment, 5)
    assert "mmr" in retriever and "refund policy" in retriever
    assert "faq-7" in retriever and "0.91" in retriever and "30 days" in retriever
    assert "&quot;topic&quot;: &quot;refunds&quot;" in retriever

    tool = _body_of(fragment, 4)
    assert "arguments" in tool.lower() and "Z-9" in tool and "&lt;/pre&gt;" in tool

    failed = _body_of(fragment, 6)
    assert 'class="tt-error"' in failed and "shop.OrderNotFoundError" in failed


def test_long_values_are_cut_and_the_cut_is_said():
    long_text = "a" * 10_000
    messages = [_msg("user", _text(f"turn {i}")) for i in range(60)]
    recorded_cut = {
        "tracetape.truncated": True,
        "total_chars": 90_000,
        "shown_chars": 10,
        "head": "h",
    }
    rows = [
        _span(1, None, "t", "tool", input=json.dumps(long_text), output=json.dumps(recorded_cut)),
        _span(2, None, "m", "llm", input=json.dumps(messages)),
    ]
    fragment = trace_html(Trace(TRACE_ID, pd.DataFrame(rows)))
    assert "a" * 4000 in fragment and "a" * 4001 not in fragment
    assert "6,000 more chars not shown" in fragment
    assert "recorded cut to 10 of 90000 chars" in fragment
    assert "20 earlier messages not shown" in fragment
    assert "turn 0" in fragment and "turn 1<" in fragment and "turn 59" in fragment
    assert "turn 2<" not in fragment


def test_a_thousand_span_trace_stays_a_reasonable_size(monkeypatch):
    big = "x" * 3000
    rows = [_span(0, None, "agent", "graph", duration_ms=10_000.0)]
    for n in range(1, 1000):
        failed = n == 999
        rows.append(
            _span(
                n,
                0,
                f"step {n}",
                "tool",
                input=json.dumps({"text": big}),
                output=json.dumps(big),
                status="error" if failed else "ok",
                status_message="the last one failed" if failed else None,
            )
        )
    trace = Trace(TRACE_ID, pd.DataFrame(rows))
    fragment = trace_html(trace)
    assert fragment.count('<div class="tt-node">') == 1000  # every row is there
    assert len(fragment) < 3_000_000
    assert "not in this view" in fragment and "trace.span(&quot;" in fragment
    assert "the last one failed" in _body_of(fragment, 999).split("</summary>")[1]
    _parse(fragment)

    monkeypatch.setattr(html_view, "MAX_ROWS", 100)
    assert "900 more spans not shown" in trace_html(trace)


def test_span_view_opens_the_span_and_shows_the_spans_under_it(trace):
    tool = trace.span(f"{4:016x}")
    fragment = span_html(tool)
    _parse(fragment)
    assert fragment.count('<div class="tt-node">') == 2  # the tool and its retriever
    assert re.search(r'data-span-id="0000000000000004" style="--tt-depth:0" open>', fragment)
    assert f"in trace <code>{TRACE_ID}</code>" in fragment and "under agent" in fragment
    assert 'class="tt-label" style="padding-left:0px"' in fragment  # depth relative to it
    bundle = tool._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"].startswith(f"span {4:016x}  trace {TRACE_ID}  under agent")


def test_text_fallbacks(trace):
    bundle = trace._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"] == trace.text()
    assert bundle["text/plain"].splitlines()[0] == (
        f"trace {TRACE_ID}  6 spans  1 error  ★ helpful=0"
    )
    assert "★ tone=0.5" in trace.text()
    text = trace.span(f"{3:016x}").text(width=200)
    assert "tracetape.model.system_fingerprint: fp_9f1" in text
    assert "gen_ai.input.messages: (shown as input/output)" in text
    assert "★ tone=0.5" in text and "VectorStoreRetriever" not in text


def test_page_wraps_a_fragment(trace):
    document = page(trace.html(), title="a <trace>")
    assert document.startswith("<!DOCTYPE html>") and "<title>a &lt;trace&gt;</title>" in document


def test_every_message_part_kind_reads_as_a_transcript():
    messages = [
        _msg("user", _text("look"), {"type": "uri", "modality": "image", "uri": "https://x/y.png"}),
        _msg(
            "assistant",
            {"type": "reasoning", "content": "thinking <hard>"},
            {**CALL, "arguments": "{not json", "invalid": True, "error": "bad JSON"},
            {"type": "refusal", "content": "I can't"},
        ),
        _msg("tool", {"type": "tool_call_response", "id": "call_7", "response": "ok"}, name="t"),
        {"role": "assistant", "content": "a provider's own shape"},
        ["human", "a LangChain (role, text) pair"],
    ]
    rows = [_span(1, None, "m", "llm", input=json.dumps(messages))]
    fragment = trace_html(Trace(TRACE_ID, pd.DataFrame(rows)))
    parsed, body = _parse(fragment), _body_of(fragment, 1)
    assert "img" not in parsed.tags and "src" not in parsed.attributes
    assert "[uri]" in body and "https://x/y.png" in body  # a URI is text, never loaded
    assert "<summary>reasoning</summary>" in body and "thinking &lt;hard&gt;" in body
    assert "invalid arguments" in body and "bad JSON" in body and "refusal: I can&#x27;t" in body
    assert "← result of" in body and "tt-role-tool" in body and ">t</span>" in body
    assert "a provider&#x27;s own shape" in body and "a LangChain (role, text) pair" in body
    assert "tt-role-human" in body


def test_a_name_scored_twice_shows_its_latest_score():
    at = [pd.Timestamp("2025-01-02", tz="UTC"), pd.Timestamp("2025-01-01", tz="UTC")]
    scores = pd.DataFrame(
        [
            {"span_id": None, "name": "helpful", "value": 1.0, "label": None, "created_at": at[0]},
            {"span_id": None, "name": "helpful", "value": 0.0, "label": None, "created_at": at[1]},
            {"span_id": None, "name": "verdict", "value": None, "label": "wrong tool"},
        ]
    )
    trace = Trace(TRACE_ID, pd.DataFrame(_rows()), scores)
    title = trace.text().splitlines()[0]
    assert "★ helpful=1" in title and "★ verdict=wrong tool" in title and "helpful=0" not in title
    head = trace_html(trace).split('<div class="tt-row tt-axis">')[0]
    assert "★ helpful=1" in head and "helpful=0" not in head
