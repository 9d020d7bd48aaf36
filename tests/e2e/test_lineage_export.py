"""Lineage leaves the tape: OpenLineage run events, the ``tracetape lineage`` verb, SVG."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent, RunState
from openlineage.client.serde import Serde
from openlineage.client.transport.file import FileConfig, FileTransport

from tests.e2e.test_lineage import record_rag
from tracetape.cli.main import main
from tracetape.tape import Tape

SVG = "{http://www.w3.org/2000/svg}"


def test_openlineage_events_validate_and_carry_the_same_lineage(tape: Tape, tmp_path: Path) -> None:
    rec = record_rag(tape)

    events = tape.lineage(rec.llm).to_openlineage(start=True)

    # openlineage-python's own classes validated run ids (UUIDs) and times on the way in;
    # its client writes them the way any consumer (Marquez, DataHub) receives them.
    assert all(isinstance(e, RunEvent) for e in events)
    sink = tmp_path / "openlineage.jsonl"
    client = OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(sink), append=True))
    )
    for event in events:
        client.emit(event)
    sent = [json.loads(line) for line in sink.read_text().splitlines()]
    for event, line in zip(events, sent, strict=True):
        assert json.loads(Serde.to_json(event)) == line
    # Each run and trace starts and completes, as the spec asks of every run.
    assert sorted((s["job"]["name"], s["eventType"]) for s in sent) == [
        ("rag-eval", "COMPLETE"), ("rag-eval", "START"),
        ("trace/RunnableSequence", "COMPLETE"), ("trace/RunnableSequence", "START"),
    ]  # fmt: skip
    starts = {s["job"]["name"]: s for s in sent if s["eventType"] == "START"}
    by_job = {s["job"]["name"]: s for s in sent if s["eventType"] == RunState.COMPLETE.value}
    assert starts["rag-eval"]["eventTime"] < by_job["rag-eval"]["eventTime"]
    assert starts["rag-eval"]["run"]["runId"] == by_job["rag-eval"]["run"]["runId"]
    for event in sent:
        assert event["schemaURL"].endswith("#/$defs/RunEvent")
        assert event["producer"] == "https://pypi.org/project/tracetape/"
        assert event["job"]["namespace"] == "tracetape"
        uuid.UUID(event["run"]["runId"])

    run, trace = by_job["rag-eval"], by_job["trace/RunnableSequence"]
    assert run["run"]["runId"] == str(uuid.UUID(rec.run.run_id.removeprefix("run-")))
    assert trace["run"]["runId"] == str(uuid.UUID(rec.trace_id))
    assert trace["run"]["facets"]["parent"]["run"]["runId"] == run["run"]["runId"]
    assert trace["run"]["facets"]["parent"]["job"]["name"] == "rag-eval"
    inputs = {(d["namespace"], d["name"]): d for d in trace["inputs"]}
    assert set(inputs) == {
        ("tracetape", "dataset/animal-facts"),
        ("tracetape", "prompt/ChatPromptTemplate"),
        ("tracetape", "model/toolcallingfakemodel/fake-tool-model-1"),
    }
    dataset = inputs[("tracetape", "dataset/animal-facts")]
    assert dataset["facets"]["version"]["datasetVersion"] == rec.dataset.artifact_id
    assert trace["outputs"] == []
    assert trace["job"]["facets"]["jobType"]["jobType"] == "AGENT_TRACE"


def test_openlineage_names_file_artifacts_by_path_and_fails_with_the_run(
    tape: Tape, tmp_path: Path
) -> None:
    data = tmp_path / "questions.jsonl"
    data.write_text('{"text": "Cats sleep sixteen hours a day.", "id": "q1"}\n')
    with pytest.raises(RuntimeError), tape.run("ingest") as ingest:
        artifact = ingest.log_artifact(data, kind="dataset", role="output")
        raise RuntimeError("disk full")

    (event,) = tape.lineage(ingest.run_id).to_openlineage()

    sent = json.loads(Serde.to_json(event))
    assert sent["eventType"] == "FAIL"
    assert sent["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: disk full"
    (output,) = sent["outputs"]
    assert (output["namespace"], output["name"]) == ("file", str(data))
    assert output["facets"]["version"]["datasetVersion"] == artifact.artifact_id
    assert artifact.metadata["members"]["count"] == 1  # a JSONL dataset has members


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_lineage_verb_prints_a_tree_edges_and_openlineage(
    tape: Tape, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    rec = record_rag(tape)
    tape.close()
    path = str(tape.path)

    code, out, _ = cli(capsys, "--path", path, "lineage", rec.llm)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("llm ToolCallingFakeModel")
    assert any("retrieved_from: dataset animal-facts" in line for line in lines)
    assert any("template: prompt ChatPromptTemplate" in line for line in lines)
    assert any("part_of: run rag-eval [finished]" in line for line in lines)

    code, out, _ = cli(
        capsys, "lineage", rec.dataset.artifact_id, "--format", "edges", "--path", path
    )
    assert code == 0
    assert "retrieved_from" in out and rec.retriever in out

    code, out, _ = cli(capsys, "--path", path, "lineage", rec.trace_id, "--format", "openlineage")
    assert code == 0
    jobs = sorted(json.loads(line)["job"]["name"] for line in out.splitlines())
    assert jobs == ["rag-eval", "trace/RunnableSequence"]  # one event each
    code, out, _ = cli(capsys, "--path", path, "lineage", rec.trace_id, "--format", "openlineage",
                       "--start")  # fmt: skip
    assert [json.loads(line)["eventType"] for line in out.splitlines()] == [
        "START", "COMPLETE", "START", "COMPLETE",
    ]  # fmt: skip

    code, _, err = cli(capsys, "--path", path, "lineage", "run-" + "0" * 32)
    assert code == 2 and "no run" in err
    code, _, err = cli(capsys, "--path", path, "lineage", "nonsense")
    assert code == 2 and "no tracetape id" in err


def test_the_svg_is_well_formed_with_a_box_per_node_and_an_arrow_per_edge(tape: Tape) -> None:
    rec = record_rag(tape)
    lin = tape.lineage(rec.trace_id)

    root = ET.fromstring(lin._repr_svg_())

    assert root.tag == f"{SVG}svg"
    boxes = root.findall(f"./{SVG}g[@class='nodes']/{SVG}g")
    assert sorted(b.get("data-id") or "" for b in boxes) == sorted(lin.nodes.node_id)
    focus = next(b for b in boxes if b.get("data-id") == rec.trace_id)
    assert focus.find(f"{SVG}rect").get("stroke-width") == "2"  # type: ignore[union-attr]
    arrows = root.findall(f"./{SVG}g[@class='edges']/{SVG}path")
    assert len(arrows) == len(lin.edges)
    labels = {t.text for t in root.iter(f"{SVG}text")}
    assert "dataset animal-facts" in labels
    bundle = lin._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    assert bundle["image/svg+xml"] in bundle["text/html"]
    assert bundle["text/plain"].startswith("trace RunnableSequence")
