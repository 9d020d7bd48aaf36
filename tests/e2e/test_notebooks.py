"""The notebooks run in a real Jupyter kernel, and what they show is checked.

Each notebook is executed with nbclient in an ipykernel started from this venv's Python
(a kernelspec written into ``tmp_path``), with ``tmp_path`` as its working directory and
its temporary folder, so the tapes it records land there and are read back here to check
the outputs against what was recorded. Cells are found by their tag.
"""

from __future__ import annotations

import json
import os
import re
import sys
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


@pytest.mark.parametrize("name", ["01_record_and_inspect.ipynb", "02_find_a_bad_response.ipynb"])
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
