"""The notebooks run in a real Jupyter kernel, and what they show is checked.

Each notebook is executed with nbclient in an ipykernel started from this venv's Python
(a kernelspec written into ``tmp_path``), with ``tmp_path`` as its working directory and
its temporary folder, so the tapes it records land there and are read back here to check
the outputs against what was recorded. Cells are found by their tag.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tracetape.inspect.reader import TapeReader

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "tracetape-venv"
TRACE_ID = re.compile(r"\b[0-9a-f]{32}\b")


def _committed(name: str) -> Any:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


class Executed:
    """An executed notebook: its cells' outputs by tag and the tapes it wrote."""

    def __init__(self, notebook: Any, folder: Path) -> None:
        self.notebook, self.folder = notebook, folder

    def cell(self, tag: str) -> Any:
        cells = [c for c in self.notebook.cells if tag in c.metadata.get("tags", [])]
        assert len(cells) == 1, f"one cell tagged {tag!r}"
        return cells[0]

    def text(self, tag: str) -> str:
        """Printed text and plain-text results of one cell."""
        out: list[str] = []
        for output in self.cell(tag).outputs:
            if output.output_type == "stream":
                out.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                out.append(output.data.get("text/plain", ""))
        return "".join(out)

    def svg(self, tag: str) -> str:
        """The SVG images of one cell."""
        return "".join(
            output.data.get("image/svg+xml", "")
            for output in self.cell(tag).outputs
            if output.output_type in ("execute_result", "display_data")
        )

    def html(self, tag: str) -> str:
        """The HTML results of one cell."""
        return "".join(
            output.data.get("text/html", "")
            for output in self.cell(tag).outputs
            if output.output_type in ("execute_result", "display_data")
        )

    def stderr(self) -> str:
        """Everything any cell wrote to stderr (warnings included)."""
        return "".join(
            output.text
            for cell in self.notebook.cells
            for output in cell.get("outputs", [])
            if output.output_type == "stream" and output.name == "stderr"
        )

    def tape(self, name: str) -> TapeReader:
        (path,) = self.folder.rglob(name)
        return TapeReader(path)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A kernelspec for this venv's Python, and Jupyter's folders, all under tmp."""
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "path" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "tracetape venv", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("JUPYTER_PLATFORM_DIRS", "1")  # else jupyter_core warns (DeprecationWarning)
        env.setenv("JUPYTER_PATH", str(home / "path"))
        env.setenv("JUPYTER_DATA_DIR", str(home / "data"))
        env.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
        env.setenv("JUPYTER_CONFIG_DIR", str(home / "config"))
        env.setenv("IPYTHONDIR", str(home / "ipython"))
        env.setenv("MPLCONFIGDIR", str(home / "mpl"))
        env.setenv("TRACETAPE_STRICT", "1")  # tracetape's own errors fail the notebook
        env.delenv("TRACETAPE_PATH", raising=False)
        # _support_agent.py imports as it does when Jupyter runs from notebooks/
        env.setenv("PYTHONPATH", str(NOTEBOOKS), prepend=os.pathsep)
        yield home


def _execute(name: str, folder: Path) -> Executed:
    from nbclient import NotebookClient

    notebook = _committed(name)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL,
        timeout=120,
        startup_timeout=60,
        resources={"metadata": {"path": str(folder)}},
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TMPDIR", str(folder))  # the notebook's tempfile.mkdtemp() lands here
        client.execute()
    return Executed(notebook, folder)


@pytest.fixture(scope="module")
def record_and_inspect(jupyter: Path, tmp_path_factory: pytest.TempPathFactory) -> Executed:
    return _execute("01_record_and_inspect.ipynb", tmp_path_factory.mktemp("nb01"))


@pytest.fixture(scope="module")
def find_a_bad_response(jupyter: Path, tmp_path_factory: pytest.TempPathFactory) -> Executed:
    return _execute("02_find_a_bad_response.ipynb", tmp_path_factory.mktemp("nb02"))


@pytest.fixture(scope="module")
def why_did_it_change(jupyter: Path, tmp_path_factory: pytest.TempPathFactory) -> Executed:
    return _execute("03_why_did_it_change.ipynb", tmp_path_factory.mktemp("nb03"))


@pytest.mark.parametrize(
    "name",
    [
        "01_record_and_inspect.ipynb",
        "02_find_a_bad_response.ipynb",
        "03_why_did_it_change.ipynb",
    ],
)
def test_notebooks_are_committed_without_outputs(name):
    notebook = _committed(name)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


# -- 01: record a LangGraph agent and inspect it ------------------------------------------


def test_record_and_inspect_runs_cleanly_and_records_three_traces(record_and_inspect):
    assert record_and_inspect.stderr() == ""
    recorded = record_and_inspect.tape("tape.duckdb").traces()
    assert len(recorded) == 3
    assert "A: Sorry, I could not complete that" in record_and_inspect.text("record")
    listed = record_and_inspect.text("traces")
    assert set(TRACE_ID.findall(listed)) == set(recorded.trace_id)
    assert listed.count("support-agent") == 3


def test_record_and_inspect_filters_traces(record_and_inspect):
    recorded = record_and_inspect.tape("tape.duckdb").traces()
    first, failed = str(recorded.trace_id.iloc[-1]), str(recorded.trace_id.iloc[0])
    by_tool = record_and_inspect.text("filter_tool")
    assert set(TRACE_ID.findall(by_tool)) == {first}
    assert "How long is shipping to Canada" in by_tool
    by_text = record_and_inspect.text("filter_search")
    assert set(TRACE_ID.findall(by_text)) == {failed} and "error" in by_text


def test_record_and_inspect_shows_the_trace_as_a_span_tree(record_and_inspect):
    reader = record_and_inspect.tape("tape.duckdb")
    first = str(reader.traces().trace_id.iloc[-1])
    html = record_and_inspect.html("trace_view")
    assert 'class="tt-view"' in html
    assert first in html
    for kind in ("graph", "node", "llm", "tool", "retriever", "prompt"):
        assert f"tt-k-{kind}" in html
    for name in ("support-agent", "search_docs", "calculator", "DemoChatModel"):
        assert f'<span class="tt-name" title="{name}">' in html
    assert "tracetape-demo-1" in html  # the model on the llm rows
    assert "support-agent" in record_and_inspect.text("trace_view")  # the text fallback


def test_record_and_inspect_model_and_tool_calls(record_and_inspect):
    llm_calls = record_and_inspect.text("llm_calls")
    assert llm_calls.count("tracetape-demo-1") == 3  # search, calculator, answer
    tool_calls = record_and_inspect.text("tool_calls")
    assert "search_docs" in tool_calls and "calculator" in tool_calls
    assert "37.5" in tool_calls  # 3 * 12.50
    found = record_and_inspect.text("find")
    assert found.count("SpanNode(tool") == 2
    first = record_and_inspect.text("first")
    assert "in node 'agent' asked for:" in first and "'name': 'search_docs'" in first
    span = record_and_inspect.html("span_view")
    assert "calculator" in span and "3 * 12.50" in span


def test_record_and_inspect_failed_span_sql_and_text(record_and_inspect):
    failed = record_and_inspect.text("failed_span")
    assert "lookup_order" in failed and "OrderNotFoundError" in failed and "Z-9999" in failed
    assert "OrderNotFoundError" in record_and_inspect.html("failed_span")
    tree = record_and_inspect.text("text_view")
    assert "support-agent" in tree and "calculator" in tree
    kinds = record_and_inspect.text("sql_kinds")
    for kind in ("llm", "tool", "retriever", "prompt", "node", "graph"):
        assert kind in kinds
    reader = record_and_inspect.tape("tape.duckdb")
    n_tools = int(reader.sql("select count(*) from spans where kind = 'tool'").iloc[0, 0])
    tools = record_and_inspect.text("sql_tools").splitlines()
    assert len(tools) == 1 + n_tools  # a header, then one line per tool call
    assert sum("OrderNotFoundError" in line for line in tools) == 1


def test_record_and_inspect_stats_and_plots(record_and_inspect):
    stats = record_and_inspect.text("stats").splitlines()
    assert [line.split()[1] for line in stats[1:]] == ["agent", "tools"]
    tokens = record_and_inspect.svg("plot_tokens")
    assert tokens.startswith("<svg") and "tracetape-demo-1" in tokens
    assert "<svg" in record_and_inspect.svg("plot_latency")
    assert "p95" in record_and_inspect.text("plot_latency")


# -- 02: find a bad response --------------------------------------------------------------


def test_find_a_bad_response_runs_cleanly_and_records_five_traces(find_a_bad_response):
    assert find_a_bad_response.stderr() == ""
    assert len(find_a_bad_response.tape("support.duckdb").traces()) == 5
    assert find_a_bad_response.text("traces").count("support-agent-v2") == 5


def test_find_a_bad_response_finds_the_slowest_tool(find_a_bad_response):
    reader = find_a_bad_response.tape("support.duckdb")
    slowest = reader.sql(
        "select trace_id, tool_name from spans where kind = 'tool' order by duration_ms desc"
    ).iloc[0]
    assert slowest.tool_name == "track_parcel"
    assert find_a_bad_response.text("tool_stats").splitlines()[1].split()[1] == "track_parcel"
    assert find_a_bad_response.text("tools_by_duration").splitlines()[1].split()[3] == (
        "track_parcel"
    )
    assert find_a_bad_response.text("slowest").startswith("slowest tool: track_parcel, ")
    html = find_a_bad_response.html("slowest_trace")
    assert slowest.trace_id in html and '<span class="tt-name" title="track_parcel">' in html


def test_find_a_bad_response_finds_the_failed_tool_call(find_a_bad_response):
    reader = find_a_bad_response.tape("support.duckdb")
    (failed_id,) = reader.sql("select trace_id from traces where status = 'error'").trace_id
    errors = find_a_bad_response.text("errors_only")
    assert failed_id in errors
    assert len(errors.splitlines()) == 2  # a header and the one failed trace
    failed = find_a_bad_response.text("failed")
    assert "lookup_order" in failed and "OrderNotFoundError" in failed and "Z-9999" in failed
    html = find_a_bad_response.html("failed_trace")
    assert failed_id in html and "tt-bad" in html and "OrderNotFoundError" in html


def test_find_a_bad_response_finds_the_wrong_tool(find_a_bad_response):
    reader = find_a_bad_response.tape("support.duckdb")
    (wrong_id,) = reader.sql(
        "select trace_id from spans where parent_span_id is null and input::varchar like ?",
        ["%How long does shipping to Canada take?%"],
    ).trace_id
    assert find_a_bad_response.text("wrong").startswith(f"wrong tool in trace {wrong_id}\n")
    assert find_a_bad_response.text("calls").count("lookup_order") == 3
    looked_up = reader.sql("select distinct trace_id from spans where tool_name = 'lookup_order'")
    listed = set(TRACE_ID.findall(find_a_bad_response.text("filter_tool")))
    assert listed == set(looked_up.trace_id) and wrong_id in listed and len(listed) == 3
    llm = find_a_bad_response.text("wrong_llm")
    assert llm.startswith("status: ok | answer: Your order A-1042")
    assert "lookup_order" in find_a_bad_response.html("wrong_llm")


def test_find_a_bad_response_scores_the_bad_traces(find_a_bad_response):
    reader = find_a_bad_response.tape("support.duckdb")
    scores = reader.sql("select trace_id, name, value from scores order by name")
    assert list(scores.name) == ["resolved", "right_tool"]
    assert list(scores.value) == [0.0, 0.0]
    assert "right_tool" in find_a_bad_response.text("scores")
    assert "asked how long shipping takes" in find_a_bad_response.text("scores_view")


def test_find_a_bad_response_shows_the_score_on_the_trace(find_a_bad_response):
    reader = find_a_bad_response.tape("support.duckdb")
    (wrong_id,) = reader.sql("select trace_id from scores where name = 'right_tool'").trace_id
    html = find_a_bad_response.html("scored_trace")
    assert wrong_id in html and "★ right_tool" in html


def test_a_trace_or_span_shows_once(record_and_inspect):
    for tag in ("trace_view", "span_view", "failed_span"):
        shown = [
            o
            for o in record_and_inspect.cell(tag).outputs
            if o.output_type in ("execute_result", "display_data")
        ]
        assert len(shown) == 1, tag
    text_view = record_and_inspect.cell("text_view").outputs
    assert [o.output_type for o in text_view] == ["stream"]


# -- 03: why did it change? --------------------------------------------------------------

SHIPPING = "How long does shipping to Canada take?"


@functools.cache
def _support_agent() -> Any:
    """The notebooks' ``_support_agent`` module (its questions and the prompt rule)."""
    spec = importlib.util.spec_from_file_location("_support_agent", NOTEBOOKS / "_support_agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _html_rows(html: str) -> list[str]:
    """The body rows of the HTML tables in a cell's output (a header row has a style)."""
    return re.findall(r"<tr>.*?</tr>", html, flags=re.DOTALL)


def _fields(text: str) -> dict[str, str]:
    """``label: value`` lines of a cell's printed text as a dict."""
    pairs = (line.split(":", 1) for line in text.splitlines())
    return {label: value.strip() for label, value in pairs}


def _cells(row: str) -> list[str]:
    """The data cells of one HTML table row (the index cell left out)."""
    return re.findall(r"<td>(.*?)</td>", row, flags=re.DOTALL)


class Story:
    """What notebook 03 recorded, read back from its tape."""

    def __init__(self, executed: Executed) -> None:
        reader = executed.tape("support.duckdb")
        self.reader = reader
        runs = reader.sql("select run_id, name, n_traces from runs order by start_time")
        self.runs = runs
        self.v2, self.v3 = runs.run_id
        self.bad = self.shipping_trace(self.v2)
        self.fixed_in_v3 = self.shipping_trace(self.v3)
        replays = reader.sql(
            "select trace_id from traces where replay_of = ? order by start_time", [self.bad]
        ).trace_id
        # In the notebook's order: the exact replay, the one that stopped, the fix.
        self.replay, self.stopped, self.counterfactual = replays

    def shipping_trace(self, run_id: str) -> str:
        (trace_id,) = self.reader.sql(
            "select trace_id from spans where parent_span_id is null and run_id = ? "
            "and input::varchar like ?",
            [run_id, f"%{SHIPPING}%"],
        ).trace_id
        return str(trace_id)

    def answer(self, trace_id: str) -> str:
        """The final answer of a trace, as its root span recorded it."""
        return self.reader.trace(trace_id).output["messages"][-1]["parts"][0]["content"]

    def spans(self, trace_id: str, kind: str) -> Any:
        return self.reader.sql(
            "select span_id, name, tool_name, input from spans where trace_id = ? and kind = ? "
            "order by start_time",
            [trace_id, kind],
        )

    def system(self, trace_id: str) -> str:
        """The system message of a trace's first model call."""
        llm = self.reader.trace(trace_id).first(kind="llm")
        (text,) = [
            part["content"]
            for message in llm.input
            if message["role"] == "system"
            for part in message["parts"]
        ]
        return text


@pytest.fixture(scope="module")
def story(why_did_it_change: Executed) -> Story:
    return Story(why_did_it_change)


def test_why_did_it_change_runs_cleanly_and_records_two_runs(why_did_it_change, story):
    assert why_did_it_change.stderr() == ""
    assert list(story.runs.name) == ["support-v2", "support-v3"]
    assert list(story.runs.n_traces) == [5, 5]
    # Listed while only support-v2 existed.
    runs = why_did_it_change.text("runs")
    assert story.v2 in runs and "support-v2" in runs and story.v3 not in runs
    recorded = why_did_it_change.text("record")
    for question in _support_agent().QUESTIONS:
        assert f"Q: {question}\nA: " in recorded
    assert f"A: {story.answer(story.bad)}" in recorded


def test_why_did_it_change_logs_the_faq_and_the_questions(why_did_it_change, story):
    logged = story.reader.sql(
        "select a.artifact_id, a.kind, a.name, l.run_id from artifacts a "
        "join artifact_links l using (artifact_id) where a.source = 'logged' "
        "order by l.created_at"
    )
    faq = logged[logged.name == "faq"]
    assert set(faq.kind) == {"dataset"} and faq.artifact_id.nunique() == 1  # the same content
    assert set(faq.run_id) == {story.v2, story.v3}
    assert set(logged.name) == {"faq", "questions"}
    shown = why_did_it_change.html("artifacts")
    for artifact_id in logged[logged.run_id == story.v2].artifact_id:
        assert artifact_id in shown
    assert '"documents": 8' in why_did_it_change.text("artifacts")


def test_why_did_it_change_finds_the_wrong_tool(why_did_it_change, story):
    (tool,) = story.spans(story.bad, "tool").tool_name
    assert tool == "lookup_order"
    shown = why_did_it_change.text("bad")
    assert shown.startswith(
        f"wrong tool in trace {story.bad}\nrecorded answer: {story.answer(story.bad)}\n"
    )


def test_why_did_it_change_replays_the_recorded_answer(why_did_it_change, story):
    recorded = story.answer(story.bad)
    assert story.answer(story.replay) == recorded
    shown = _fields(why_did_it_change.text("replay"))
    assert shown == {
        "answer": recorded,
        "same as recorded": "True",
        "model calls": "0",  # both model calls of the replay were answered from the tape
        "replay trace": story.replay,
    }
    assert len(story.spans(story.replay, "llm")) == len(story.spans(story.bad, "llm")) == 2
    # Its row in tape.traces() names the trace it replays; the recorded ones name none.
    rows = [_cells(row) for row in _html_rows(why_did_it_change.html("replay_link"))]
    by_trace = {cells[0]: cells for cells in rows}  # trace_id, run_id, replay_of, ...
    assert by_trace[story.replay][2] == story.bad
    assert not by_trace[story.replay][1].startswith("run-")  # recorded outside any run
    originals = [cells for cells in rows if cells[1] == story.v2]
    assert len(originals) == 5 and not any(TRACE_ID.search(cells[2]) for cells in originals)


def test_why_did_it_change_shows_where_the_edited_prompt_diverges(why_did_it_change, story):
    first_llm = story.spans(story.bad, "llm").span_id.iloc[0]
    shown = why_did_it_change.text("divergence")
    assert shown.startswith(
        f"replay diverged at llm call #0 'SupportModel' (recorded span {first_llm}): "
    )
    before, after = story.system(story.bad), story.system(story.counterfactual)
    assert after == f"{before} {_support_agent().FAQ_RULE}"
    lines = shown.splitlines()
    assert f"-system: {before}" in lines and f"+system: {after}" in lines
    assert f" human: {SHIPPING}" in lines  # the question itself did not change


def test_why_did_it_change_tries_the_fix_with_the_model_live(why_did_it_change, story):
    fixed = story.answer(story.counterfactual)
    assert fixed != story.answer(story.bad)
    assert "Shipping to Canada takes" in fixed  # the FAQ entry, not an order status
    tools = story.spans(story.counterfactual, "tool")
    assert list(tools.tool_name) == ["search_docs"]
    assert len(story.spans(story.counterfactual, "retriever")) == 1
    (lookup,) = story.spans(story.bad, "tool").span_id
    shown = _fields(why_did_it_change.text("counterfactual"))
    assert shown == {
        "answer": fixed,
        "same as recorded": "False",
        "model calls": str(len(story.spans(story.counterfactual, "llm"))),  # all live
        "tools called": str(list(tools.tool_name)),
        "divergence": shown["divergence"],
    }
    # The recorded lookup_order call the fixed agent no longer made: listed, not raised.
    assert shown["divergence"] == (
        f"replay diverged at tool call #1 'lookup_order' (recorded span {lookup}): "
        "the re-run ended without making 1 recorded tool call(s): lookup_order"
    )
    assert "on_divergence" not in why_did_it_change.cell("counterfactual").source


def test_why_did_it_change_diffs_the_fix_against_the_bad_trace(why_did_it_change, story):
    import tracetape
    from tracetape.diff import PromptChange

    html = why_did_it_change.html("diff_traces")
    assert f"A {story.bad}" in html and f"B {story.counterfactual}" in html
    assert 'class="diff"' in html and "cause: prompt ChatPromptTemplate" in html
    text = why_did_it_change.text("diff_traces_text")
    assert f"diff of traces A {story.bad} ↔ B {story.counterfactual}" in text
    assert "causes (1) and their effects" in text
    assert [line.strip(" │├└─") for line in text.splitlines() if "●" in line] == [
        "● prompt ChatPromptTemplate"
    ]
    assert "tool lookup_order only in A" in text and "tool search_docs only in B" in text
    # The first request rendered the same question: the edit implies it, and says so.
    assert "1 rendered prompt differs in 1 trace as the edit implies" in text
    (path,) = why_did_it_change.folder.rglob("support.duckdb")
    tape = tracetape.open(path)
    try:
        (cause,) = tape.diff(story.bad, story.counterfactual).causes
    finally:
        tape.close()
    rule = _support_agent().FAQ_RULE
    assert isinstance(cause, PromptChange)
    assert rule in cause.text_b and rule not in cause.text_a


def test_why_did_it_change_diffs_the_runs_one_cause_one_question(why_did_it_change, story):
    questions = _support_agent().QUESTIONS
    assert f"Q: {SHIPPING}\nA: {story.answer(story.fixed_in_v3)}" in why_did_it_change.text(
        "record_v3"
    )
    assert story.answer(story.fixed_in_v3) == story.answer(story.counterfactual)
    html = why_did_it_change.html("diff_runs")
    assert f"A {story.v2}" in html and f"B {story.v3}" in html
    assert "cause: prompt ChatPromptTemplate" in html
    effects = why_did_it_change.text("run_effects")
    assert "causes: [('prompt', 'ChatPromptTemplate')]\n" in effects
    assert "declared params: ['param prompt: v2 → v3']\n" in effects
    # One row per question: changed, effects, renderings implied, renderings listed.
    counts = {
        question: line[len(question) :].split()
        for line in effects.splitlines()
        for question in questions
        if line.startswith(question)
    }
    assert set(counts) == set(questions)
    implied_total = 0
    for question in questions:
        v2, v3 = (
            story.reader.sql(
                "select trace_id from spans where parent_span_id is null and run_id = ? "
                "and input::varchar like ?",
                [run_id, f"%{question}%"],
            ).trace_id.iloc[0]
            for run_id in (story.v2, story.v3)
        )
        same = list(story.spans(v2, "tool").tool_name) == list(
            story.spans(v3, "tool").tool_name
        ) and story.answer(v2) == story.answer(v3)
        changed, behaved, implied, listed = counts[question]
        assert changed == str(not same) and (int(behaved) == 0) == same
        assert same == (question != SHIPPING)
        # Every request holds the edit: implied by it, or listed where the values differ.
        assert int(implied) + int(listed) == len(story.spans(v3, "prompt"))
        assert int(listed) == (0 if same else 1)  # after another tool's result
        implied_total += int(implied)
    assert f"{implied_total} rendered prompts differ in 5 traces as the edit implies" in effects
    shipping = why_did_it_change.text("run_effects_shipping")
    assert shipping.startswith(f"behaved differently: [{SHIPPING!r}]\n")
    rows = _html_rows(why_did_it_change.html("run_effects_shipping"))
    assert rows and all(SHIPPING in row for row in rows)
    shown = [_cells(row) for row in rows]  # question, kind, step, step_kind, step_name, ...
    assert ["step", "5", "tool", "lookup_order"] in [cells[1:5] for cells in shown]
    assert ["step", "6", "tool", "search_docs"] in [cells[1:5] for cells in shown]


def test_a_diff_shows_once(why_did_it_change):
    for tag in ("diff_traces", "diff_runs"):
        shown = [
            o
            for o in why_did_it_change.cell(tag).outputs
            if o.output_type in ("execute_result", "display_data")
        ]
        assert len(shown) == 1, tag
        assert sorted(shown[0].data) == ["text/html", "text/plain"], tag
        assert [o.output_type for o in why_did_it_change.cell(tag).outputs] == ["execute_result"]
    printed = why_did_it_change.cell("diff_traces_text").outputs
    assert [o.output_type for o in printed] == ["stream"]


def test_why_did_it_change_follows_the_fixed_answer_to_the_faq(why_did_it_change, story):
    answer_llm = story.spans(story.fixed_in_v3, "llm").span_id.iloc[-1]
    (faq,) = story.reader.sql("select artifact_id from artifacts where name = 'faq'").artifact_id
    (prompt_hash,) = story.reader.sql(
        "select attributes->>'tracetape.prompt.hash' as h from spans "
        "where span_id = (select span_id from spans where trace_id = ? and kind = 'prompt' "
        "order by start_time desc limit 1)",
        [story.fixed_in_v3],
    ).h
    svg = why_did_it_change.svg("lineage")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    labels = " ".join(root.itertext())
    assert "faq" in labels and "support-v3" in labels
    edges = why_did_it_change.html("lineage_edges")
    for node in (answer_llm, faq, prompt_hash, story.fixed_in_v3, story.v3):
        assert node in edges
    (retrieved,) = [r for r in _html_rows(edges) if "retrieved_from" in r]
    assert faq in retrieved and "faq-shipping" in retrieved
    assert "llm SupportModel" in why_did_it_change.text("lineage")
    events = why_did_it_change.text("openlineage")
    # One event per pipeline run and per trace the lineage holds: support-v3 and its trace.
    assert events == "2 OpenLineage events: ['support-v3', 'trace/support-agent-v2']\n"


def test_why_did_it_change_keeps_the_fix_as_a_fixture_that_replays(why_did_it_change, story):
    fields = _fields(why_did_it_change.text("fixture"))
    fixture = why_did_it_change.tape("shipping_fixed.duckdb")
    (fixed,) = fixture.sql("select trace_id from traces").trace_id
    assert fixed == story.counterfactual
    assert fields["exported spans"] == str(len(story.reader.trace(fixed).spans))
    assert fields["same output"] == "True" and fields["model calls"] == "0"
    (row,) = story.reader.sql(
        "select n_llm, n_tool, n_retriever from traces where trace_id = ?", [fixed]
    ).itertuples()
    # Every model and tool call; the FAQ search's retrieval ran inside its tool, which the
    # fixture answered, so it is never made.
    assert (row.n_retriever, fields["from the fixture"]) == (1, str(row.n_llm + row.n_tool))
    # The fixture itself was not written: the replay went to its copy.
    assert list(fixture.sql("select trace_id from traces").trace_id) == [fixed]
