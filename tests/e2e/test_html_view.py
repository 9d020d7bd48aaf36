"""The HTML view is a web page, so it is tested as one, in headless Chromium.

Real LangGraph agents are recorded into real tapes (the demo's support agent, and a
ReAct agent whose tool answers with hostile HTML); their traces' HTML goes into one
file, which Debian's Chromium opens through Playwright (never ``playwright install``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

import tracetape
from tests.fakes.models import ToolCallingFakeModel, call, script
from tracetape.demo import record
from tracetape.inspect.reader import TapeReader
from tracetape.inspect.render.html import page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = (
    "</pre></details><script>window.__tt_pwned = 1</script>"
    '<img src="http://127.0.0.1:9/x.png" onerror="window.__tt_pwned = 2">'
)

# `make test` installs Debian's chromium, so in CI (and under make) this test always runs;
# a developer running pytest by hand on a machine without a browser gets a skip that says
# how to get one. CI=true turns a missing browser into a failure, never a silent skip.
if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError("CI needs /usr/bin/chromium for the HTML view test: run `make browser`")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no headless browser here: /usr/bin/chromium is missing; `make test` (or "
    "`make browser`) installs Debian's chromium package, which this test drives",
)


@tool
def fetch_page(url: str) -> str:
    """Fetch a web page (here: one that answers with markup and a script)."""
    return f"page {url}: {HOSTILE}"


def _hostile_trace(path: Path) -> str:
    model = ToolCallingFakeModel(
        messages=script(
            AIMessage(content="", tool_calls=[call("fetch_page", {"url": "<b>x</b>"}, "call_1")]),
            AIMessage(content="Done: <i>not italic</i>"),
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(model, [fetch_page])
    tape = tracetape.open(path)
    try:
        agent.invoke(
            {"messages": [("user", "Open <b>x</b> & tell me")]},
            config={"callbacks": [tape.langchain()]},
        )
        tape.flush()
    finally:
        tape.close()
    return str(TapeReader(path).traces(1).trace_id.iloc[0])


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("html")
    demo = record(folder / "demo.duckdb")
    reader = TapeReader(demo.path)
    shipping, failed = reader.trace(demo.trace_ids[0]), reader.trace(demo.trace_ids[2])
    hostile_id = _hostile_trace(folder / "hostile.duckdb")
    hostile = TapeReader(folder / "hostile.duckdb").trace(hostile_id)
    files = {
        # Two traces on one page, as two cells of a notebook would put them.
        "demo": page(
            shipping._repr_mimebundle_()["text/html"] + failed._repr_mimebundle_()["text/html"]
        ),
        "hostile": page(hostile._repr_mimebundle_()["text/html"]),
        "span": page(failed.first(kind="tool", failed=True)._repr_mimebundle_()["text/html"]),
    }
    out: dict[str, Path] = {}
    for name, document in files.items():
        out[name] = folder / f"{name}.html"
        out[name].write_text(document, encoding="utf-8")
    return out


class Browser:
    """One page in headless Chromium that records console errors and every request."""

    def __init__(self, page, errors: list[str], requests: list[str]) -> None:
        self.page, self.errors, self.requests = page, errors, requests

    def open(self, path: Path) -> None:
        self.page.goto(path.as_uri())
        self.page.wait_for_selector(".tt-view.tt-js")  # the inline script ran


@pytest.fixture
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = chromium.new_context()
            errors: list[str] = []
            requests: list[str] = []

            def route(r) -> None:
                requests.append(r.request.url)
                if r.request.url.startswith(("file:", "data:")):
                    r.continue_()
                else:
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.set_default_timeout(10_000)
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield Browser(page, errors, requests)
        finally:
            chromium.close()


def _span_row(view, kind: str, name: str):
    return (
        view.locator(f"details.tt-k-{kind}")
        .filter(has=view.page.locator(f"summary .tt-name:text-is('{name}')"))
        .first
    )


def test_expanding_a_span_shows_its_inputs(pages, browser):
    browser.open(pages["demo"])
    views = browser.page.locator(".tt-view")
    assert views.count() == 2
    ids = browser.page.evaluate("Array.from(document.querySelectorAll('[id]'), e => e.id)")
    assert len(ids) == len(set(ids))  # two traces on one page: no id clash
    shipping = views.nth(0)
    assert shipping.locator("summary.tt-row").count() == 22

    llm = _span_row(shipping, "llm", "DemoChatModel")
    question = llm.locator(".tt-body .tt-msg.tt-role-user").first
    assert not question.is_visible()
    llm.locator("summary.tt-row").click()
    assert question.is_visible()
    assert "How long is shipping to Canada, and what is 3 * 12.50?" in question.inner_text()
    system = llm.locator(".tt-body .tt-role-system").first
    assert "You are the support assistant" in system.inner_text()
    assert "search_docs" in llm.locator(".tt-body .tt-call").first.inner_text()

    calculator = _span_row(shipping, "tool", "calculator")
    arguments = calculator.locator(".tt-body .tt-sec").filter(has_text="arguments")
    assert not arguments.is_visible()
    calculator.locator("summary.tt-row").click()
    assert arguments.is_visible() and "3 * 12.50" in arguments.inner_text()
    assert "37.5" in calculator.locator(".tt-body").inner_text()

    retriever = _span_row(shipping, "retriever", "VectorStoreRetriever")
    retriever.locator("summary.tt-row").click()
    documents = retriever.locator(".tt-body table.tt-grid")
    assert documents.is_visible() and "faq-shipping" in documents.inner_text()

    prompt = _span_row(shipping, "prompt", "ChatPromptTemplate")
    prompt.locator("summary.tt-row").click()
    assert prompt.locator(".tt-body .tt-var").first.inner_text() == "{shop}"

    # Clicking the row again closes it.
    llm.locator("summary.tt-row").click()
    assert not question.is_visible()
    assert browser.errors == []
    assert {url.split(":", 1)[0] for url in browser.requests} == {"file"}


def test_folding_a_subtree_and_opening_the_errors(pages, browser):
    browser.open(pages["demo"])
    failed = browser.page.locator(".tt-view").nth(1)
    tool = _span_row(failed, "tool", "lookup_order")
    tools_node = _span_row(failed, "node", "tools")
    # The triangle folds the spans under a node, and does not open the node itself.
    tools_node.locator("label.tt-twisty").click()
    assert not tool.is_visible()
    assert tools_node.get_attribute("open") is None
    # "errors" unfolds the way down to every failed span and opens it.
    failed.locator("button[data-tt-act=errors]").click()
    assert tool.is_visible() and tool.get_attribute("open") is not None
    error = tool.locator(".tt-body .tt-error")
    assert error.is_visible()
    assert "tracetape.demo.tools.OrderNotFoundError" in error.inner_text()
    assert "no order 'Z-9999'" in error.inner_text()
    # The failed row stands out: red on the row itself.
    color = tool.locator("summary .tt-name").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(207, 34, 46)"
    failed.locator("button[data-tt-act=fold]").click()
    assert not tool.is_visible() and failed.locator("summary.tt-row").first.is_visible()
    failed.locator("button[data-tt-act=unfold]").click()
    assert tool.is_visible()
    assert browser.errors == []


def test_recorded_markup_is_shown_as_text_never_run(pages, browser):
    browser.open(pages["hostile"])
    view = browser.page.locator(".tt-view")
    tool = _span_row(view, "tool", "fetch_page")
    result = tool.locator(".tt-body .tt-sec").filter(has_text="result")
    assert not result.is_visible()
    tool.locator("summary.tt-row").click()
    assert result.is_visible()
    assert "<script>window.__tt_pwned = 1</script>" in result.inner_text()
    assert '<img src="http://127.0.0.1:9/x.png"' in result.inner_text()
    assert "<b>x</b>" in tool.locator(".tt-body").inner_text()
    assert browser.page.evaluate("typeof window.__tt_pwned") == "undefined"
    assert browser.page.locator(".tt-view img, .tt-view i").count() == 0
    bold = browser.page.locator(".tt-view b").all_text_contents()
    assert "x" not in bold and "fetch_page" in bold  # ours: "calls <b>fetch_page</b>"
    assert browser.page.locator("script").count() == 1  # the view's own
    assert browser.errors == []
    assert all(url.startswith("file:") for url in browser.requests), browser.requests


def test_a_span_on_its_own_opens_with_its_details(pages, browser):
    browser.open(pages["span"])
    view = browser.page.locator(".tt-view")
    assert "in trace" in view.locator(".tt-head").inner_text()
    tool = _span_row(view, "tool", "lookup_order")
    assert tool.get_attribute("open") is not None
    assert view.locator(".tt-body .tt-error").is_visible()
    assert '"Z-9999"' in tool.locator("summary.tt-row").inner_text()
    assert browser.errors == []
