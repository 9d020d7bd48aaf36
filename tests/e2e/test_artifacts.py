"""Artifacts: content-addressed, stored once however often logged, linked per logging."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tracetape
from tracetape.tape import Tape

# Builds one sample of every kind under ``root``; ``changed`` alters one byte (or one
# value) of each. Run in this process and in fresh ones: the ids must match.
_SAMPLES = """
import pathlib, sys
import pandas as pd
import pyarrow as pa
import pydantic

class Config(pydantic.BaseModel):
    model: str
    k: int

def samples(root, changed):
    root = pathlib.Path(root)
    tail = b"!" if changed else b"?"
    (root / "file.jsonl").write_bytes(b'{"q": "why"}' + tail)
    folder = root / "index"
    (folder / "shard").mkdir(parents=True, exist_ok=True)
    (folder / "a.bin").write_bytes(b"alpha")
    (folder / "shard" / "b.bin").write_bytes(b"beta" + tail)
    n = 3 if changed else 2
    return {
        "file": str(root / "file.jsonl"),
        "directory": folder,
        "dataframe": pd.DataFrame({"q": ["a", "b"], "n": [1, n]}),
        "arrow": pa.table({"q": ["a", "b"], "n": [1, n]}),
        "json": {"k": 4, "prompts": ["p1", "p2" if not changed else "p3"]},
        "pydantic": Config(model="m", k=n),
        "bytes": b"raw" + tail,
    }
"""

_LOG_ALL = (
    _SAMPLES
    + """
import json, tracetape
root, changed = pathlib.Path(sys.argv[1]), sys.argv[2] == "1"
tape = tracetape.open(root / "tape.duckdb")
with tape.run("hash") as run:
    ids = {k: run.log_artifact(v).artifact_id for k, v in samples(root, changed).items()}
tape.close()
print(json.dumps(ids))
"""
)


def _ids_in_a_fresh_process(root: Path, changed: bool) -> dict[str, str]:
    root.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", _LOG_ALL, str(root), "1" if changed else "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def _samples(root: Path, changed: bool) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(_SAMPLES, namespace)
    root.mkdir(parents=True)
    return namespace["samples"](root, changed)  # type: ignore[operator]


def test_each_kind_hashes_the_same_in_two_processes_and_differently_after_a_change(
    tape: Tape, tmp_path: Path
) -> None:
    with tape.run("here") as run:
        here = {
            key: run.log_artifact(value)
            for key, value in _samples(tmp_path / "here", False).items()
        }
    there = _ids_in_a_fresh_process(tmp_path / "there", False)
    again = _ids_in_a_fresh_process(tmp_path / "again", False)
    changed = _ids_in_a_fresh_process(tmp_path / "changed", True)

    assert {k: a.artifact_id for k, a in here.items()} == there == again
    assert all(there[k] != changed[k] for k in there), (there, changed)
    assert all(v.startswith("sha256:") and len(v) == 7 + 64 for v in there.values())
    assert {k: a.kind for k, a in here.items()} == {
        "file": "file",
        "directory": "directory",
        "dataframe": "table",
        "arrow": "table",
        "json": "json",
        "pydantic": "json",
        "bytes": "bytes",
    }
    assert here["directory"].size == len(b"alpha") + len(b"beta?")
    assert here["directory"].metadata["files"] == 2
    assert here["file"].uri == (tmp_path / "here" / "file.jsonl").as_uri()
    assert here["arrow"].metadata["rows"] == 2


def test_an_artifact_logged_twice_is_stored_once_with_two_links(tape: Tape, tmp_path: Path) -> None:
    data = tmp_path / "questions.jsonl"
    data.write_text('{"q": "why is the sky blue"}\n')

    with tape.run("build") as build:
        first = build.log_artifact(data, kind="dataset", role="output")
    with tape.run("eval") as evaluate, tracetape.span("load") as load:
        second = evaluate.log_artifact(str(data), kind="dataset", name="eval-questions")
    tape.flush()

    assert first.artifact_id == second.artifact_id
    artifacts = tape.artifacts()
    assert artifacts.artifact_id.tolist() == [first.artifact_id]
    row = artifacts.iloc[0]
    assert (row.kind, row["name"], row.uri, row["size"]) == (
        "dataset",
        "questions.jsonl",
        data.as_uri(),
        data.stat().st_size,
    )
    assert json.loads(row.metadata) == {"format": "bytes"}
    links = tape.sql(
        "SELECT artifact_id, run_id, span_id, role, name FROM artifact_links ORDER BY created_at",
        format="arrow",
    )
    assert links.to_pylist() == [
        {"artifact_id": first.artifact_id, "run_id": build.run_id, "span_id": None,
         "role": "output", "name": "questions.jsonl"},
        {"artifact_id": first.artifact_id, "run_id": evaluate.run_id,
         "span_id": load.span_id, "role": "input", "name": "eval-questions"},
    ]  # fmt: skip
    by_run = tape.artifacts(run=evaluate.run_id)
    assert by_run[["artifact_id", "role"]].values.tolist() == [[first.artifact_id, "input"]]


def test_copy_stores_the_content_once_in_the_tapes_artifact_folder(
    tape: Tape, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"question": ["a", "b"], "score": [0.5, 1.0]})
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "vectors.bin").write_bytes(b"\x00\x01")

    with tape.run("eval") as run:
        report = run.log_artifact(frame, kind="eval-report", role="output", copy=True)
        run.log_artifact(frame.copy(), kind="eval-report", role="output", copy=True)
        index = run.log_artifact(folder, kind="index", copy=True)

    stored = tmp_path / "tape.artifacts"
    assert sorted(p.name for p in stored.iterdir()) == sorted(
        [report.artifact_id.removeprefix("sha256:") + ".arrows",
         index.artifact_id.removeprefix("sha256:")]
    )  # fmt: skip
    assert report.uri is not None
    assert report.uri.startswith(stored.as_uri())
    assert (stored / index.artifact_id.removeprefix("sha256:") / "vectors.bin").read_bytes() == (
        b"\x00\x01"
    )
    assert len(tape.artifacts()) == 2
    assert len(tape.sql("SELECT * FROM artifact_links")) == 3


def test_what_cannot_be_an_artifact_says_why(tape: Tape, tmp_path: Path) -> None:
    with tape.run("r") as run:
        with pytest.raises(TypeError, match="JSON-able"):
            run.log_artifact({1, 2})
        with pytest.raises(FileNotFoundError):
            run.log_artifact(tmp_path / "missing.csv")
        with pytest.raises(ValueError, match="role"):
            run.log_artifact({"a": 1}, role="both")  # type: ignore[arg-type]

    assert tape.artifacts().empty


def test_the_artifact_views_columns(tape: Tape) -> None:
    with tape.run("r") as run:
        run.log_artifact({"k": 4}, kind="config", name="retriever")

    assert tape.sql("SELECT * FROM artifacts").columns.tolist() == [
        "artifact_id", "kind", "name", "uri", "size", "metadata", "created_at", "source",
    ]  # fmt: skip
    assert tape.sql("SELECT * FROM artifact_links").columns.tolist() == [
        "link_id", "artifact_id", "run_id", "trace_id", "span_id", "role", "name", "uri",
        "created_at", "source",
    ]  # fmt: skip
    row = tape.artifacts().iloc[0]
    assert (row.kind, row["name"], row["size"]) == ("config", "retriever", len(b'{"k":4}'))


def test_documents_are_one_dataset_artifact_with_a_member_per_document(tape: Tape) -> None:
    from langchain_core.documents import Document

    from tests.fakes import rag
    from tracetape.store.artifact_hash import member_hash

    with tape.run("index") as run:
        first = run.log_artifact(rag.documents(), kind="dataset")
        again = run.log_artifact(rag.documents(), kind="dataset", name="same-content")
        edited = rag.documents()
        edited[0] = Document(id="doc-cats", page_content="Cats sleep twelve hours.")
        changed = run.log_artifact(edited, kind="dataset")
        table = run.log_artifact(pd.DataFrame({"text": ["a", "b"]}), kind="dataset")
        plain = run.log_artifact(pd.DataFrame({"text": ["a", "b"]}), kind="eval-report")
    tape.flush()

    assert first.artifact_id == again.artifact_id != changed.artifact_id
    assert (first.kind, first.metadata["format"], first.metadata["documents"]) == (
        "dataset",
        "documents",
        5,
    )
    assert table.artifact_id == plain.artifact_id  # one content, logged under two kinds
    assert "members" in table.metadata and "members" not in plain.metadata
    blob = first.metadata["members"]["blob"]
    (content,) = tape.sql("SELECT content FROM blobs WHERE hash = ?", [blob]).content
    members = json.loads(content)
    assert members["ids"] == [d.id for d in rag.documents()]
    assert members["content_sha256"] == [member_hash(d.page_content) for d in rag.documents()]
    assert len(tape.artifacts()) == 3


def test_a_jsonl_dataset_has_members_only_when_its_lines_are_records_with_text(
    tape: Tape, tmp_path: Path
) -> None:
    records = tmp_path / "docs.jsonl"
    records.write_text('{"id": "a", "text": "alpha"}\n\n{"page_content": "beta"}\n')
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text("[1, 2]\n")

    with tape.run("ingest") as run:
        docs = run.log_artifact(records, kind="dataset")
        logged = [run.log_artifact(p, kind="dataset") for p in (binary, numbers)]
        not_a_dataset = run.log_artifact(records.read_bytes() + b"\n", kind="file")

    assert docs.metadata["members"]["count"] == 2
    assert all("members" not in a.metadata for a in [*logged, not_a_dataset])
