"""Lineage of a real RAG run: answer <- model call <- prompt version + retrieved
documents <- dataset artifact <- the run that produced it, and back down again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.documents import Document

from tests.e2e.test_rag import QUESTION, rag_chain
from tests.fakes import rag
from tracetape.lineage import Lineage
from tracetape.runs.run import Run
from tracetape.store.artifacts import Artifact
from tracetape.tape import Tape


@dataclass
class Recorded:
    run: Run
    dataset: Artifact
    trace_id: str
    llm: str
    retriever: str
    prompt: str
    prompt_hash: str


def record_rag(tape: Tape, documents: list[Document] | None = None) -> Recorded:
    """A run that logs the documents as a dataset, indexes them and answers once."""
    docs = documents or rag.documents()
    with tape.run("rag-eval", params={"k": 2}) as run:
        dataset = run.log_artifact(docs, kind="dataset", name="animal-facts")
        store = rag.ScoredInMemoryVectorStore(rag.embeddings())
        store.add_documents(docs)
        chain = rag_chain(store.as_retriever(search_kwargs={"k": 2}))
        assert chain.invoke(QUESTION, config={"callbacks": [tape.langchain()]}) == "Sixteen hours."
    tape.flush()
    spans = tape.sql(
        "SELECT span_id, trace_id, kind, attributes->>'tracetape.prompt.hash' AS hash "
        "FROM spans WHERE run_id = ? AND kind IN ('llm', 'retriever', 'prompt') "
        "ORDER BY start_time DESC",
        [run.run_id],
    )
    by_kind = {row.kind: row for row in spans.itertuples()}  # the newest of each kind
    return Recorded(
        run, dataset, str(by_kind["llm"].trace_id), str(by_kind["llm"].span_id),
        str(by_kind["retriever"].span_id), str(by_kind["prompt"].span_id),
        str(by_kind["prompt"].hash),
    )  # fmt: skip


def flows(lineage: Lineage) -> set[tuple[str, str, str, str, str]]:
    """Edges as (source id, source type, relation, target type, target id)."""
    frame = lineage.edges
    return {
        (r.source_id, r.source_type, r.relation, r.target_type, r.target_id)
        for r in frame.itertuples()
    }


def test_lineage_from_the_answer_reaches_dataset_prompt_and_model(tape: Tape) -> None:
    rec = record_rag(tape)

    lin = tape.lineage(rec.llm)

    nodes = lin.nodes.set_index("node_id")
    model_id = next(n for n in lin.upstream() if nodes.loc[n, "type"] == "model")
    assert flows(lin) == {
        (rec.dataset.artifact_id, "dataset", "retrieved_from", "retriever", rec.retriever),
        (rec.retriever, "retriever", "context", "llm", rec.llm),
        (rec.prompt_hash, "prompt", "template", "prompt", rec.prompt),
        (rec.prompt, "prompt", "prompt", "llm", rec.llm),
        (model_id, "model", "model", "llm", rec.llm),
        (rec.llm, "llm", "part_of", "trace", rec.trace_id),
        (rec.trace_id, "trace", "part_of", "run", rec.run.run_id),
    }
    assert nodes.loc[rec.dataset.artifact_id, "depth"] == -2
    assert nodes.loc[rec.dataset.artifact_id, "name"] == "animal-facts"
    assert nodes.loc[rec.prompt_hash, "name"] == "ChatPromptTemplate"
    assert nodes.loc[model_id, "name"] == "toolcallingfakemodel/fake-tool-model-1"
    assert lin.attributes(model_id) == {
        "provider": "toolcallingfakemodel",
        "request_model": "fake-tool-model-1",
        "model_class": "tests.fakes.models.ToolCallingFakeModel",
    }
    edges = lin.edges.set_index("relation")
    assert json.loads(edges.loc["retrieved_from", "attributes"]) == {
        "documents": ["doc-cats", "doc-dogs"], "match": ["content"],
    }  # fmt: skip
    assert json.loads(edges.loc["context", "attributes"])["match"] == "content"
    assert lin.downstream() == [rec.trace_id, rec.run.run_id]
    chain = lin.path(rec.dataset.artifact_id)
    assert list(zip(chain.source_id, chain.relation, chain.target_id, strict=True)) == [
        (rec.dataset.artifact_id, "retrieved_from", rec.retriever),
        (rec.retriever, "context", rec.llm),
    ]
    assert list(lin.path(rec.run.run_id).target_id) == [rec.trace_id, rec.run.run_id]
    assert lin.path("0" * 16).empty


def test_lineage_from_the_trace_reaches_the_dataset_and_the_environment(tape: Tape) -> None:
    rec = record_rag(tape)

    lin = tape.lineage(rec.trace_id[:10])  # a unique prefix is enough

    assert lin.focus == rec.trace_id
    nodes = lin.nodes.set_index("node_id")
    upstream = set(lin.upstream())
    expected = {rec.dataset.artifact_id, rec.retriever, rec.llm, rec.prompt, rec.prompt_hash}
    assert expected <= upstream
    env = tape.snapshot["environment_id"]
    assert nodes.loc[env, "kind"] == "environment"
    assert (env, "environment", "environment", "trace", rec.trace_id) in flows(lin)
    assert lin.downstream() == [rec.run.run_id]


def test_lineage_from_the_dataset_walks_down_to_the_answers_that_used_it(tape: Tape) -> None:
    used = record_rag(tape)
    other = [Document(id="doc-moon", page_content="The moon has no air.", metadata={})]
    unrelated = record_rag(tape, other)  # a second dataset, its own answer

    lin = tape.lineage(used.dataset.artifact_id)

    down = lin.downstream()
    assert {used.retriever, used.llm, used.trace_id, used.run.run_id} <= set(down)
    assert not {unrelated.retriever, unrelated.llm, unrelated.trace_id} & set(down)
    assert lin.upstream() == []
    # The dataset was logged by the run, so the run read it (an explicit link) too.
    assert (used.dataset.artifact_id, "dataset", "input", "run", used.run.run_id) in flows(lin)


def test_lineage_reaches_the_run_that_produced_the_dataset(tape: Tape) -> None:
    with tape.run("build-corpus") as build:
        produced = build.log_artifact(rag.documents(), kind="dataset", role="output")
    rec = record_rag(tape)  # logs the same documents again: the same artifact
    assert rec.dataset.artifact_id == produced.artifact_id
    logged = tape.artifacts().query("source == 'logged'")
    assert logged.artifact_id.tolist() == [produced.artifact_id]

    lin = tape.lineage(rec.llm)

    assert (build.run_id, "run", "output", "dataset", produced.artifact_id) in flows(lin)
    assert build.run_id in lin.upstream()
    # ... and from the producing run, down to the answer.
    assert rec.llm in tape.lineage(build.run_id).downstream()


def test_explicit_links_to_a_trace_and_a_run_output(tape: Tape) -> None:
    rec = record_rag(tape)
    with tape.run("score") as scoring:
        config = scoring.log_artifact({"k": 2, "judge": "exact"}, kind="config")
        scoring.link(rec.trace_id, config)
        report = scoring.log_artifact({"accuracy": 1.0}, kind="eval-report", role="output")
        with pytest.raises(ValueError, match="trace id"):
            scoring.link("not-an-id", config)

    lin = tape.lineage(rec.trace_id)
    assert (config.artifact_id, "config", "input", "trace", rec.trace_id) in flows(lin)
    down = tape.lineage(rec.dataset.artifact_id).downstream()
    assert report.artifact_id not in down  # the scoring run did not read the dataset
    assert report.artifact_id in tape.lineage(config.artifact_id).downstream()


def test_documents_without_recorded_content_link_by_id(tmp_path: Any) -> None:
    import tracetape

    tape = tracetape.open(tmp_path / "ids.duckdb", capture_content=False)
    try:
        rec = record_rag(tape)
        lin = tape.lineage(rec.llm)
    finally:
        tape.close()
    edges = lin.edges.set_index("relation")
    assert json.loads(edges.loc["retrieved_from", "attributes"])["match"] == ["id"]
    assert json.loads(edges.loc["context", "attributes"]) == {"match": "order"}
    assert json.loads(edges.loc["prompt", "attributes"]) == {"match": "order"}
    assert rec.dataset.artifact_id in lin.upstream()


def test_unknown_ids_raise_not_found_and_bad_ones_value_error(tape: Tape) -> None:
    import tracetape

    record_rag(tape)
    for missing in ("0" * 16, "0" * 32, "run-" + "0" * 32, "sha256:" + "0" * 64):
        with pytest.raises(tracetape.NotFoundError):
            tape.lineage(missing)
    with pytest.raises(ValueError, match="no tracetape id"):
        tape.lineage("what?")


def test_a_llamaindex_query_reaches_its_dataset_prompt_and_model(tape: Tape) -> None:
    from tests.fakes import llamaindex as fakes

    with tape.run("li-rag") as run:
        dataset = run.log_artifact(fakes.documents(), kind="dataset", name="li-docs")
        index = fakes.index()  # the same documents, split into nodes and embedded
        with fakes.attached(tape.recorder):
            index.as_query_engine(similarity_top_k=2).query(QUESTION)
    tape.flush()
    (llm,) = tape.sql("SELECT span_id FROM spans WHERE kind = 'llm'").span_id

    lin = tape.lineage(llm)

    kinds = {(r.source_type, r.relation, r.target_type) for r in lin.edges.itertuples()}
    assert {
        ("dataset", "retrieved_from", "retriever"),
        ("retriever", "context", "llm"),
        ("prompt", "template", "prompt"),
        ("prompt", "prompt", "llm"),
        ("model", "model", "llm"),
    } <= kinds
    assert dataset.artifact_id in lin.upstream()
    assert run.run_id in lin.downstream()


def test_nested_runs_are_part_of_their_parent(tape: Tape) -> None:
    with tape.run("nightly") as parent:
        rec = record_rag(tape)  # a child run of "nightly"

    up = tape.lineage(parent.run_id)
    assert (rec.run.run_id, "run", "part_of", "run", parent.run_id) in flows(up)
    assert rec.dataset.artifact_id in up.upstream()
    assert parent.run_id in tape.lineage(rec.llm).downstream()


def test_in_an_agent_loop_documents_reach_the_model_through_a_tool_message(
    tmp_path: Any,
) -> None:
    import tracetape
    from tracetape.demo import record

    demo = record(tmp_path / "demo.duckdb")
    tape = tracetape.open(demo.path)
    try:
        (retriever,) = tape.sql("SELECT span_id, trace_id FROM spans WHERE kind = 'retriever'")[
            ["span_id", "trace_id"]
        ].itertuples(index=False)
        lin = tape.lineage(retriever.span_id)
        fed = lin.edges.query("relation == 'context'")
        # Every later model call of the loop saw the documents in the tool's answer.
        later = tape.sql(
            "SELECT span_id FROM spans WHERE kind = 'llm' AND trace_id = ? AND start_time > "
            "(SELECT end_time FROM spans WHERE span_id = ?)",
            [retriever.trace_id, retriever.span_id],
        )
        calls = tape.sql(
            "SELECT span_id, kind FROM spans WHERE trace_id = ? AND kind IN ('llm', 'tool') "
            "ORDER BY start_time",
            [retriever.trace_id],
        )
        answer = tape.lineage(str(calls.span_id.iloc[-1]))
    finally:
        tape.close()
    assert sorted(fed.target_id) == sorted(later.span_id)
    # The final answer built on every earlier model call and tool call of its loop,
    # through the tool calls the model asked for and the results it read.
    assert set(calls.span_id.iloc[:-1]) <= set(answer.upstream())
    relations = set(answer.edges.relation)
    assert {"tool_call", "tool_result", "context", "prompt", "model"} <= relations
    assert len(fed) >= 1
    assert all(json.loads(a)["match"] == "content" for a in fed.attributes)


def test_lineage_from_a_prompt_version_or_a_model_reaches_the_calls_that_used_it(
    tape: Tape,
) -> None:
    first, second = record_rag(tape), record_rag(tape)
    assert first.prompt_hash == second.prompt_hash  # one template version, used twice

    by_prompt = tape.lineage(first.prompt_hash)
    model_id = next(key[0] for key in tape.lineage(first.llm).graph_edges if key[2] == "model")
    by_model = tape.lineage(model_id)

    for rec in (first, second):
        assert {rec.prompt, rec.llm, rec.trace_id} <= set(by_prompt.downstream())
        assert {rec.llm, rec.trace_id, rec.run.run_id} <= set(by_model.downstream())
    assert by_prompt.nodes.set_index("node_id").loc[first.prompt_hash, "type"] == "prompt"
    assert by_model.upstream() == []


def test_documents_cut_for_display_are_matched_from_the_whole_payload(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracetape

    monkeypatch.setenv("TRACETAPE_MAX_DISPLAY_CHARS", "256")
    long_docs = [
        Document(id=f"long-{i}", page_content=f"{text} " + "More about it. " * 40, metadata=meta)
        for i, (text, meta) in enumerate(rag.TEXTS.values())
    ]
    tape = tracetape.open(tmp_path / "cut.duckdb")
    try:
        rec = record_rag(tape, long_docs)
        cut = tape.sql(
            "SELECT attributes->'tracetape.truncated' AS cut FROM spans WHERE span_id = ?",
            [rec.retriever],
        ).cut[0]
        down = tape.lineage(rec.dataset.artifact_id).downstream()
        up = tape.lineage(rec.llm)
    finally:
        tape.close()
    assert "gen_ai.retrieval.documents" in json.loads(cut)
    assert {rec.retriever, rec.llm} <= set(down)
    edge = up.edges.set_index("relation").loc["retrieved_from"]
    assert json.loads(edge.attributes)["match"] == ["content"]


def test_lineage_from_an_environment_reaches_what_was_recorded_in_it(tape: Tape) -> None:
    rec = record_rag(tape)
    env = str(tape.snapshot["environment_id"])

    lin = tape.lineage(env)

    assert lin.upstream() == []
    assert {rec.trace_id, rec.run.run_id} <= set(lin.downstream())
    assert lin.attributes(env)["python"] == tape.snapshot["python"]["version"]


def test_runs_traces_spans_and_artifacts_stand_for_their_ids(tape: Tape) -> None:
    rec = record_rag(tape)

    assert tape.lineage(rec.run).focus == rec.run.run_id
    assert tape.lineage(tape.trace(rec.trace_id)).focus == rec.trace_id
    assert tape.lineage(tape.span(rec.llm)).focus == rec.llm
    assert tape.lineage(rec.dataset).focus == rec.dataset.artifact_id
    with pytest.raises(ValueError, match="no tracetape id"):
        tape.lineage(42)
