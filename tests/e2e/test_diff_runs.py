"""``tape.diff`` of two runs of a RAG app recorded by two processes that differ in one
package version, one prompt edit, the retriever's ``k`` and the model: the diff names
exactly those four causes with their effects under them; an identical re-run diffs empty.

Each run is its own process (an environment snapshot is taken once per process): one
with a test-made distribution ``tracetape-diffprobe 1.0`` on its path, one with 2.0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracetape
from tracetape.cli.main import main
from tracetape.diff import (
    Diff,
    DocumentsChange,
    FieldChange,
    ModelChange,
    OutputChange,
    PackageChange,
    ParamChange,
    PromptChange,
    RetrieverChange,
)
from tracetape.errors import DiffError

ROOT = Path(__file__).resolve().parents[2]
EDITED = "Answer briefly, from this context only:"


def _probe(folder: Path, version: str) -> Path:
    """A folder holding an installed-looking distribution ``tracetape-diffprobe``."""
    info = folder / f"tracetape_diffprobe-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tracetape-diffprobe\nVersion: {version}\n"
    )
    return folder


def _record(tape_path: Path, probe: Path, *args: str) -> str:
    """Run the app in a fresh process (outside any git checkout); returns its run id."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACETAPE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(probe)])
    done = subprocess.run(
        [sys.executable, "-m", "tests.fakes.diff_app", str(tape_path), *args],
        cwd=probe,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    """The tape and three runs: A, B (four changes) and A again (identical)."""
    root = tmp_path_factory.mktemp("diff")
    old, new = _probe(root / "v1", "1.0"), _probe(root / "v2", "2.0")
    path = root / "tape.duckdb"
    # Sequential: on two cores three processes importing LangChain at once are slower.
    a = _record(path, old)
    b = _record(path, new, "--prompt", EDITED, "--k", "3", "--model", "large")
    again = _record(path, old)
    return path, a, b, again


@pytest.fixture
def diff_ab(recorded: tuple[Path, str, str, str]) -> Diff:
    path, a, b, _ = recorded
    tape = tracetape.open(path)
    try:
        return tape.diff(a, b)
    finally:
        tape.close()


def test_the_diff_names_exactly_the_four_causes(diff_ab: Diff) -> None:
    package, retriever, prompt, model = diff_ab.causes

    assert package == PackageChange(name="tracetape-diffprobe", version_a="1.0", version_b="2.0")
    assert isinstance(retriever, RetrieverChange)
    assert retriever.fields == (FieldChange("search_kwargs.k", 2, 3),)
    assert isinstance(prompt, PromptChange)
    assert prompt.text_diff.splitlines() == [
        "@@ -1,3 +1,3 @@",
        "-[system] Answer from this context only:",
        f"+[system] {EDITED}",
        " {context}",
        " [user] {question}",
    ]
    assert prompt.variables_a == prompt.variables_b == ("context", "question")
    assert isinstance(model, ModelChange)
    swapped = {f.field: (f.before, f.after) for f in model.fields}
    assert swapped.pop("class") == (
        "tests.fakes.models.ToolCallingFakeModel",
        "__main__.LargeFakeModel",  # the app ran as ``python -m``
    )
    assert swapped == {
        "request_model": ("fake-small-1", "fake-large-2"),
        "provider": ("toolcallingfakemodel", "largefakemodel"),
    }
    # The run params say what the user turned, but are not causes.
    assert diff_ab.declared == (
        ParamChange(key="k", value_a=2, value_b=3),
        ParamChange(key="model", value_a="small", value_b="large"),
    )
    assert not diff_ab.is_empty


def test_effects_are_grouped_under_the_causes_that_produced_them(diff_ab: Diff) -> None:
    groups = {group.causes[0].kind: group.effects for group in diff_ab.groups}

    assert set(groups) == {"package", "retriever", "prompt", "model"}  # nothing unexplained
    assert groups["package"] == ()  # the probe package changes nothing the agent does
    # Each of the two questions: one more document, under the k change ...
    documents = [e for e in groups["retriever"] if isinstance(e, DocumentsChange)]
    assert [(d.step, d.ids_a, d.added) for d in documents] == [
        ("t1 #1 retriever VectorStoreRetriever", ("doc-cats", "doc-dogs"), ("doc-bees",)),
        ("t2 #1 retriever VectorStoreRetriever", ("doc-birds", "doc-dogs"), ("doc-fish",)),
    ]
    where = [d.location for d in documents]
    assert [(w.pair, w.step, w.step_kind, w.step_name) for w in where] == [
        (1, 1, "retriever", "VectorStoreRetriever"),
        (2, 1, "retriever", "VectorStoreRetriever"),
    ]
    assert all(w.span_id_a and w.span_id_b and w.trace_id_a != w.trace_id_b for w in where)
    # ... and the final answers under it too: the earliest cause upstream of them.
    finals = [e for e in groups["retriever"] if isinstance(e, OutputChange) and e.final]
    assert [(f.text_a, f.text_b) for f in finals] == [
        ("Sixteen hours.", "Cats sleep about sixteen hours a day."),
        ("They dance.", "Bees dance to show where flowers are."),
    ]
    assert len(groups["retriever"]) == 4
    # The rendered prompts under the template edit: listed, for the new document is in
    # them too (their variables' values differ: the edit alone does not explain them).
    rendered = groups["prompt"]
    (edit,) = (g.causes[0] for g in diff_ab.groups if g.causes[0].kind == "prompt")
    assert isinstance(edit, PromptChange) and edit.rendered_prompts == 0
    assert [e.step for e in rendered] == [
        "t1 #2 prompt ChatPromptTemplate",
        "t2 #2 prompt ChatPromptTemplate",
    ]
    assert isinstance(rendered[0], OutputChange)
    assert f"+system: {EDITED}" in rendered[0].text_diff
    assert "+Bees dance to show where flowers are." in rendered[0].text_diff
    # The model's answers under the model swap.
    answers = groups["model"]
    assert [e.step for e in answers] == [
        "t1 #3 llm fake-small-1 → fake-large-2",
        "t2 #3 llm fake-small-1 → fake-large-2",
    ]
    assert isinstance(answers[0], OutputChange)
    assert (answers[0].text_a, answers[0].text_b) == (
        "assistant: Sixteen hours.",
        "assistant: Cats sleep about sixteen hours a day.",
    )


def test_timings_are_reported_apart_and_never_as_causes(diff_ab: Diff) -> None:
    assert diff_ab.metrics
    assert {m.metric for m in diff_ab.metrics} <= {"duration_ms", "input_tokens", "output_tokens"}
    assert not any(c.kind == "metric" for c in diff_ab.causes + diff_ab.effects)
    frame = diff_ab.to_frame()
    assert frame.groupby("category").size().to_dict() == {
        "cause": 4,
        "effect": 8,
        "declared": 2,
        "metric": len(diff_ab.metrics),
    }
    assert (
        frame.loc[frame.kind == "documents", "group"].tolist()
        == ["retriever VectorStoreRetriever"] * 2
    )


def test_an_identical_rerun_diffs_empty_apart_from_timings(
    recorded: tuple[Path, str, str, str],
) -> None:
    path, a, _, again = recorded
    tape = tracetape.open(path)
    try:
        same = tape.diff(a, again)
        environments = tape.sql(
            "SELECT run_id, environment_id FROM runs WHERE run_id IN (?, ?)", [a, again]
        )
    finally:
        tape.close()

    assert environments.environment_id.nunique() == 1  # one environment, taken twice
    assert same.is_empty
    assert (same.causes, same.effects, same.declared) == ([], [], ())
    assert same.metrics  # two runs never take exactly as long
    assert "no change (timings aside)" in str(same)


def test_two_environments_diff_by_the_package_alone(recorded: tuple[Path, str, str, str]) -> None:
    path, a, b, _ = recorded
    tape = tracetape.open(path)
    try:
        env_a, env_b = (tape.runs().set_index("run_id").environment_id[r] for r in (a, b))
        result = tape.diff(env_a, env_b)
        with pytest.raises(DiffError, match="cannot diff a run"):
            tape.diff(a, env_b)
    finally:
        tape.close()

    assert result.what == "environment"
    assert result.causes == [
        PackageChange(name="tracetape-diffprobe", version_a="1.0", version_b="2.0")
    ]
    assert result.effects == []


def test_the_cli_prints_causes_with_their_effects(
    recorded: tuple[Path, str, str, str], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    path, a, b, again = recorded
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["diff", a, b, "--path", str(path), "--exit-code"]) == 1
    out = capsys.readouterr().out
    lines = [line.strip("│├└─ ") for line in out.splitlines()]
    assert "● package tracetape-diffprobe changed: 1.0 → 2.0" in lines
    assert "search_kwargs.k: 2 → 3" in lines
    assert f"+[system] {EDITED}" in lines
    assert "request_model: fake-small-1 → fake-large-2" in lines
    assert "added: doc-bees" in lines
    assert out.index("● retriever") < out.index("added: doc-bees") < out.index("● prompt")
    assert "timings and tokens (never causes)" in out

    assert main(["diff", a, again, "--path", str(path), "--exit-code"]) == 0
    assert "no change (timings aside)" in capsys.readouterr().out

    assert main(["diff", a, b, "--path", str(path), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    documents = [r for r in records if r["kind"] == "documents"]
    assert [(r["pair"], r["step"], r["step_kind"]) for r in documents] == [
        (1, 1, "retriever"),
        (2, 1, "retriever"),
    ]
    assert all(len(r["span_id_a"]) == len(r["span_id_b"]) == 16 for r in documents)
    causes = [(r["kind"], r["subject"]) for r in records if r["category"] == "cause"]
    assert causes == [
        ("package", "tracetape-diffprobe"),
        ("retriever", "VectorStoreRetriever"),
        ("prompt", "ChatPromptTemplate"),
        ("model", "fake-small-1"),
    ]

    # Both questions behaved differently (other documents, other answers).
    assert main(["diff", a, b, "--path", str(path), "--traces", "--format", "json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    assert [(r["pair"], r["changed"], r["documents"]) for r in pairs] == [
        (1, True, 1),
        (2, True, 1),
    ]
    trace_ids = {r["trace_id_a"] for r in records if r["kind"] == "documents"}
    assert {r["trace_id_a"] for r in pairs} == trace_ids
    assert main(["diff", a, again, "--path", str(path), "--traces"]) == 0
    table = capsys.readouterr().out
    assert f"trace pairs of {a} ↔ {again}" in table
    assert table.count("False") == 2 and "True" not in table
    assert all(t[:12] in table and t not in table for t in trace_ids)  # a prefix, as show takes
