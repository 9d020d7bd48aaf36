"""Export: traces and everything linked to them, read back by DuckDB and pyarrow."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from langchain_core.documents import Document
from langchain_core.tools import tool
from opentelemetry import trace as otel_trace

import tracetape
from tracetape.cli.main import main
from tracetape.tape import Tape

VIEWS = (
    "traces", "spans", "scores", "blobs", "environments", "runs", "artifact_links", "artifacts"
)  # fmt: skip


@tool
def lookup(text: str) -> str:
    """Look a text up."""
    if text == "boom":
        raise ValueError("no such thing")
    return f"found: {text}"


def _trace(tape: Tape, text: str) -> str:
    with tracetape.span("ask"):
        trace_id = f"{otel_trace.get_current_span().get_span_context().trace_id:032x}"
        with contextlib.suppress(ValueError):
            lookup.invoke({"text": text}, config={"callbacks": [tape.langchain()]})
    return trace_id


@pytest.fixture
def recorded(tape: Tape) -> tuple[Tape, str, str]:
    first = _trace(tape, "first question")
    second = _trace(tape, "boom")
    tape.flush()
    tape.score(first, "helpful", True, comment="good")
    tape.score(second, "category", "error")
    return tape, first, second


def _view_ids(tape: Tape, view: str, key: str, trace_ids: list[str]) -> list[str]:
    if view == "blobs":
        refs = " , ".join(
            f"coalesce(json_extract_string(attributes, '$.\"tracetape.replay.{part}\"[*]'), [])"
            for part in ("input", "output")
        )
        sql = (
            "SELECT DISTINCT hash AS k FROM blobs WHERE hash IN (SELECT unnest("
            f"list_concat({refs})) FROM spans WHERE trace_id IN (SELECT unnest(?::VARCHAR[])))"
        )
    elif view == "environments":
        sql = (
            "SELECT DISTINCT environment_id AS k FROM spans "
            "WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))"
        )
    else:
        sql = f"SELECT {key} AS k FROM {view} WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))"
    return sorted(str(k) for k in tape.sql(sql, [trace_ids]).k)


_KEYS = {
    "traces": "trace_id",
    "spans": "span_id",
    "scores": "score_id",
    "blobs": "hash",
    "environments": "environment_id",
}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_export_writes_every_view_and_duckdb_reads_back_the_same_rows(
    recorded: tuple[Tape, str, str], tmp_path: Path, fmt: str
) -> None:
    tape, first, second = recorded
    out = tmp_path / "out"

    written = tape.export(out, fmt)  # type: ignore[arg-type]

    assert sorted(p.name for p in out.iterdir()) == sorted(f"{v}.{fmt}" for v in VIEWS)
    reader = "read_parquet" if fmt == "parquet" else "read_json"
    con = duckdb.connect()
    try:
        for view, key in _KEYS.items():
            rows = con.execute(
                f"SELECT {key} FROM {reader}(?) ORDER BY {key}", [str(out / f"{view}.{fmt}")]
            ).fetchall()
            exported = [str(r[0]) for r in rows]
            assert exported == _view_ids(tape, view, key, [first, second]), view
            assert written[view] == len(exported)
        assert written["blobs"] >= 2 and written["environments"] == 1
        # Column values survive: the spans' JSON, the traces' nested scores.
        attrs = con.execute(
            f"SELECT attributes::JSON FROM {reader}(?) WHERE kind = 'tool'",
            [str(out / f"spans.{fmt}")],
        ).fetchall()
        assert {json.loads(str(a[0])).get("gen_ai.tool.name") for a in attrs} == {"lookup"}
    finally:
        con.close()


def test_export_takes_the_runs_the_traces_ran_in_with_their_parents_and_artifacts(
    tape: Tape, tmp_path: Path
) -> None:
    with tape.run("nightly") as outer:
        outer.log_artifact({"questions": ["a", "b"]}, kind="dataset", name="questions")
        faq = [Document(page_content="Refunds take 5 days.", id="faq-1")]
        outer.log_artifact(faq, kind="dataset", name="faq")
        with tape.run("step") as inner:
            inner.log_artifact({"answers": ["x"]}, kind="eval", name="answers", role="output")
            chosen = _trace(tape, "inside the step")
    with tape.run("other") as other:
        other.log_artifact({"unrelated": True}, kind="dataset", name="unrelated")
        _trace(tape, "elsewhere")
    tape.flush()

    written = tape.export(tmp_path / "one", "jsonl", traces=[chosen])
    everything = tape.export(tmp_path / "all")

    def read(folder: str, view: str, column: str) -> list[str]:
        path = tmp_path / folder / f"{view}.{'jsonl' if folder == 'one' else 'parquet'}"
        rows = duckdb.sql(f"SELECT {column} FROM '{path}' ORDER BY ALL").fetchall()
        return [str(r[0]) for r in rows]

    assert read("one", "runs", "name") == ["nightly", "step"]
    assert read("one", "artifacts", "name") == ["answers", "faq", "questions"]
    assert sorted(read("one", "artifact_links", "run_id")) == sorted(
        [outer.run_id, outer.run_id, inner.run_id]
    )
    assert written["runs"] == 2 and written["artifacts"] == 3
    # The dataset's member list goes along: lineage matches documents against it.
    members = tape.sql(
        "SELECT metadata->'members'->>'blob' AS blob FROM artifacts WHERE name = 'faq'"
    ).blob[0]
    assert members in read("one", "blobs", "hash")
    assert read("all", "runs", "name") == ["nightly", "other", "step"]
    assert everything["artifacts"] == 4 and everything["artifact_links"] == 4


def test_export_of_chosen_traces_takes_only_what_links_to_them(
    recorded: tuple[Tape, str, str], tmp_path: Path
) -> None:
    tape, first, second = recorded

    written = tape.export(tmp_path / "one", traces=tape.traces(errors_only=True))

    assert written["traces"] == 1
    spans = pq.read_table(tmp_path / "one" / "spans.parquet")
    assert set(spans.column("trace_id").to_pylist()) == {second}
    scores = pq.read_table(tmp_path / "one" / "scores.parquet").to_pylist()
    assert [(s["trace_id"], s["name"], s["label"]) for s in scores] == [
        (second, "category", "error")
    ]
    traces = pq.read_table(tmp_path / "one" / "traces.parquet").to_pylist()
    assert traces[0]["scores"] == [
        {"name": "category", "value": None, "label": "error", "source": "human"}
    ]
    blobs = pq.read_table(tmp_path / "one" / "blobs.parquet").column("hash").to_pylist()
    assert sorted(blobs) == _view_ids(tape, "blobs", "hash", [second])
    assert first not in json.dumps(
        pq.read_table(tmp_path / "one" / "spans.parquet").to_pylist(), default=str
    )
    by_prefix = tape.export(tmp_path / "prefix", traces=[second[:10]])  # as `tape.trace` takes
    assert by_prefix == written
    with pytest.raises(tracetape.NotFoundError, match="nothing was exported"):
        tape.export(tmp_path / "none", traces=["0" * 32])
    with pytest.raises(ValueError, match="parquet, jsonl"):
        tape.export(tmp_path / "bad", "csv")  # type: ignore[arg-type]


def test_export_from_the_command_line(
    recorded: tuple[Tape, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tape, _, second = recorded
    out = tmp_path / "cli"
    path = str(tape.path)

    assert main(["--path", path, "export", "--format", "jsonl", "--out", str(out), "--errors"]) == 0

    assert "spans.jsonl" in capsys.readouterr().out
    lines = (out / "traces.jsonl").read_text().splitlines()
    assert [json.loads(line)["trace_id"] for line in lines] == [second]
    by_prefix = ["--path", path, "export", "--format", "jsonl", "--out", str(out / "p")]
    assert main([*by_prefix, "--trace", second[:8]]) == 0
    lines = (out / "p" / "traces.jsonl").read_text().splitlines()
    assert [json.loads(line)["trace_id"] for line in lines] == [second]
    args = ["--path", path, "export", "--out", str(out), "--trace", "9" * 32]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("error: no trace")
    missing = ["--path", str(tmp_path / "none.duckdb"), "export", "--out", str(out)]
    assert main(missing) == 2
    assert "no tape at" in capsys.readouterr().err
