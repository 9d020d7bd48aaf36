"""`tape.stats` and `tape.plot` on the demo agent's real traces."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

import tracetape
from tracetape.demo import record
from tracetape.tape import Tape


@pytest.fixture(scope="module")
def tape(tmp_path_factory: pytest.TempPathFactory) -> Tape:
    run = record(tmp_path_factory.mktemp("stats") / "tape.duckdb")
    opened = tracetape.open(run.path)
    yield opened
    opened.close()


def test_tools_calls_errors_and_latency(tape):
    stats = tape.stats(by="tool").set_index("tool")
    assert set(stats.index) == {"search_docs", "calculator", "lookup_order"}
    order = stats.loc["lookup_order"]
    assert (order["calls"], order["errors"], order["error_rate"]) == (2, 1, 0.5)
    assert order["traces"] == 2
    assert 0 < order["p50_ms"] <= order["p95_ms"] <= order["max_ms"]
    assert stats.loc["calculator", "errors"] == 0


def test_model_tokens_add_up_to_the_traces(tape):
    stats = tape.stats(by="model", since="1d").set_index("model")
    totals = tape.sql("SELECT sum(input_tokens) AS i, sum(output_tokens) AS o FROM traces")
    assert stats.loc["tracetape-demo-1", "calls"] == 7
    assert stats.loc["tracetape-demo-1", "input_tokens"] == totals["i"][0]
    assert stats.loc["tracetape-demo-1", "output_tokens"] == totals["o"][0]
    assert tape.stats(by="model", until="1d").empty


def test_nodes_per_time_bucket(tape):
    series = tape.stats(by="node", bucket="1h")
    assert set(series["node"]) == {"agent", "tools"}
    assert series.groupby("node")["calls"].sum().to_dict() == {"agent": 7, "tools": 4}
    assert str(series["bucket"].dtype).startswith("datetime64")
    one = tape.stats(by="node", name="agent", format="arrow")
    assert one.column("node").to_pylist() == ["agent"]


def test_unknown_grouping_is_a_clear_error(tape):
    with pytest.raises(tracetape.TapeError, match="cannot group by"):
        tape.stats(by="colour")
    with pytest.raises(tracetape.TapeError, match="cannot plot"):
        tape.plot("colour")


def _svg(plot) -> ET.Element:
    bundle = plot._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert plot._repr_svg_() == bundle["image/svg+xml"]
    # Ours and inline: no script, no reference to anything outside the element.
    assert "<script" not in bundle["image/svg+xml"]
    assert re.findall(r"https?://[^\"']+", bundle["image/svg+xml"]) == [
        "http://www.w3.org/2000/svg"
    ]
    return ET.fromstring(bundle["image/svg+xml"])


def test_latency_plot_is_inline_svg_with_a_text_fallback(tape):
    plot = tape.plot("latency", by="tool", bucket="1h")
    root = _svg(plot)
    assert root.tag.endswith("svg")
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 2  # p50 and p95
    text = str(plot)
    assert "latency of tool spans" in text and "p50" in text and "p95" in text


def test_tokens_plot_has_a_bar_pair_per_model(tape):
    plot = tape.plot("tokens")
    root = _svg(plot)
    bars = root.findall("{http://www.w3.org/2000/svg}rect")
    legend = 2
    assert len(bars) == legend + 2 * len(plot.labels)
    assert "tracetape-demo-1" in plot.labels
    assert "tracetape-demo-1" in str(plot)


def test_plot_and_stats_accept_an_automatic_bucket(tape):
    plot = tape.plot("latency", by="tool", bucket="auto")
    assert "<svg" in plot._repr_mimebundle_()["image/svg+xml"]
    assert len(tape.stats(by="tool", bucket="auto")) >= 1
