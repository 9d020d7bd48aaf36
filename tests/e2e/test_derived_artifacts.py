"""Prompt versions and models in the ``artifacts`` and ``artifact_links`` views: a SQL
user asks which prompt version produced a trace, or which traces used a model, and gets
the same ids `tape.lineage` draws."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate

import tracetape
from tests.fakes.models import ToolCallingFakeModel
from tracetape.capture.langchain.prompts import object_parts, stable
from tracetape.lineage import Lineage
from tracetape.store.schema.derived_artifacts import model_artifact_id, model_identity
from tracetape.tape import Tape

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "Answer in one sentence."), ("human", "{question}")]
)
EDITED = ChatPromptTemplate.from_messages(
    [("system", "Answer in one short sentence."), ("human", "{question}")]
)


def _ask(tape: Tape, prompt: ChatPromptTemplate, model: Any, question: str) -> str:
    """One prompt | model call in a trace of its own; its trace id."""
    with tracetape.span("ask") as ask:
        (prompt | model).invoke({"question": question}, config={"callbacks": [tape.langchain()]})
    assert ask.trace_id is not None
    return ask.trace_id


def _fake(n: int) -> ToolCallingFakeModel:
    return ToolCallingFakeModel(messages=iter([AIMessage(f"answer {i}") for i in range(n)]))


def _spans(tape: Tape, kind: str) -> list[dict[str, Any]]:
    return tape.sql(
        "SELECT trace_id, span_id, run_id, attributes::VARCHAR AS attributes FROM spans "
        "WHERE kind = ? ORDER BY start_time",
        [kind],
        format="arrow",
    ).to_pylist()


def _model_edge(lineage: Lineage, span_id: str) -> str:
    """The model artifact lineage draws into the llm span ``span_id``."""
    (model_id,) = [s for (s, t, rel) in lineage.graph_edges if rel == "model" and t == span_id]
    return model_id


def test_each_template_version_is_one_prompt_artifact_linked_from_its_prompt_spans(
    tape: Tape,
) -> None:
    model = _fake(3)
    first = _ask(tape, PROMPT, model, "Why is the sky blue?")
    second = _ask(tape, PROMPT, model, "Why is grass green?")
    edited = _ask(tape, EDITED, model, "Why is the sky blue?")
    tape.flush()

    prompts = _spans(tape, "prompt")
    hashes = [json.loads(p["attributes"])["tracetape.prompt.hash"] for p in prompts]
    assert hashes[0] == hashes[1] != hashes[2]
    artifacts = tape.sql(
        "SELECT artifact_id, name, uri, metadata::VARCHAR AS metadata, source FROM artifacts "
        "WHERE kind = 'prompt' ORDER BY created_at",
        format="arrow",
    ).to_pylist()
    assert [(a["artifact_id"], a["name"], a["uri"], a["source"]) for a in artifacts] == [
        (hashes[0], "ChatPromptTemplate", None, "derived"),
        (hashes[2], "ChatPromptTemplate", None, "derived"),
    ]
    assert json.loads(artifacts[0]["metadata"]) == {
        "class": "ChatPromptTemplate",
        "template_format": "f-string",
        "input_variables": ["question"],
    }
    links = tape.sql(
        "SELECT link_id, artifact_id, trace_id, span_id, role, source FROM artifact_links "
        "WHERE span_id IN (SELECT span_id FROM spans WHERE kind = 'prompt') "
        "ORDER BY created_at",
        format="arrow",
    ).to_pylist()
    assert links == [
        {"link_id": f"prompt:{p['span_id']}", "artifact_id": h, "trace_id": p["trace_id"],
         "span_id": p["span_id"], "role": "input", "source": "derived"}
        for p, h in zip(prompts, hashes, strict=True)
    ]  # fmt: skip

    # "Which prompt version produced this trace?" and back: "which traces used it?"
    which = (
        "SELECT a.artifact_id FROM artifact_links l JOIN artifacts a USING (artifact_id) "
        "WHERE l.trace_id = ? AND a.kind = 'prompt'"
    )
    assert tape.sql(which, [edited]).artifact_id.tolist() == [hashes[2]]
    assert tape.sql(which, [first]).artifact_id.tolist() == [hashes[0]]
    used = tape.sql(
        "SELECT DISTINCT trace_id FROM artifact_links WHERE artifact_id = ?", [hashes[0]]
    )
    assert sorted(used.trace_id) == sorted([first, second])
    # Lineage names the same version.
    assert hashes[2] in tape.lineage(edited).upstream()


def test_each_model_is_one_model_artifact_with_the_id_lineage_draws(tape: Tape) -> None:
    tool_model = _fake(2)
    generic = GenericFakeChatModel(messages=iter([AIMessage("generic answer")]))
    first = _ask(tape, PROMPT, tool_model, "Why is the sky blue?")
    again = _ask(tape, PROMPT, tool_model, "Why is grass green?")
    other = _ask(tape, PROMPT, generic, "Why is the sea salty?")
    tape.flush()

    calls = _spans(tape, "llm")
    assert [c["trace_id"] for c in calls] == [first, again, other]
    models = tape.sql(
        "SELECT artifact_id, name, metadata::VARCHAR AS metadata FROM artifacts "
        "WHERE kind = 'model' ORDER BY created_at",
        format="arrow",
    ).to_pylist()
    assert len(models) == 2
    assert models[0]["name"] == "toolcallingfakemodel/fake-tool-model-1"
    assert json.loads(models[0]["metadata"]) == {
        "provider": "toolcallingfakemodel",
        "request_model": "fake-tool-model-1",
        "model_class": "tests.fakes.models.ToolCallingFakeModel",
    }
    assert "GenericFakeChatModel" in json.loads(models[1]["metadata"])["model_class"]

    linked = dict(
        tape.sql(
            "SELECT span_id, artifact_id FROM artifact_links WHERE link_id LIKE 'model:%'",
            format="arrow",
        )
        .to_pandas()
        .itertuples(index=False, name=None)
    )
    for call in calls:
        drawn = _model_edge(tape.lineage(call["span_id"]), call["span_id"])
        identity = model_identity(json.loads(call["attributes"]))
        assert identity is not None
        assert linked[call["span_id"]] == drawn == model_artifact_id(identity)
    assert linked[calls[0]["span_id"]] == linked[calls[1]["span_id"]] == models[0]["artifact_id"]
    assert linked[calls[2]["span_id"]] == models[1]["artifact_id"]

    # "Which traces used model X?" by its name, as a SQL user asks it.
    used = tape.sql(
        "SELECT DISTINCT l.trace_id FROM artifact_links l JOIN artifacts a USING (artifact_id) "
        "WHERE a.kind = 'model' AND a.metadata->>'request_model' = ?",
        ["fake-tool-model-1"],
    )
    assert sorted(used.trace_id) == sorted([first, again])
    by_model = tape.lineage(models[1]["artifact_id"]).downstream()
    assert other in by_model and first not in by_model


def test_sql_and_python_agree_on_model_ids_for_any_text(tape: Tape) -> None:
    signals = [
        {"gen_ai.provider.name": "open\\ai", "gen_ai.request.model": "gpt\n4o"},
        {"gen_ai.request.model": "gpt\\n4o", "gen_ai.provider.name": "open\\ai"},
        {"gen_ai.response.model": 'ü 中 😀 \x1f "q" \\', "tracetape.model.class": "a.b.C"},
        {"tracetape.model.system_fingerprint": "fp_1", "gen_ai.request.model": 4},
        {"tracetape.model.system_fingerprint": "fp_1"},
        {"gen_ai.request.temperature": 0.5},  # no version signal: no model artifact
    ]
    for i, attrs in enumerate(signals):
        with tracetape.span(f"call-{i}", kind="llm", attributes=attrs):
            pass
    tape.flush()

    linked = tape.sql(
        "SELECT s.name, l.artifact_id, l.name AS model, s.attributes::VARCHAR AS attributes "
        "FROM artifact_links l JOIN spans s USING (span_id) ORDER BY s.name",
        format="arrow",
    ).to_pylist()
    assert [r["name"] for r in linked] == ["call-0", "call-1", "call-2", "call-3", "call-4"]
    for row in linked:
        identity = model_identity(json.loads(row["attributes"]))
        assert identity is not None
        assert row["artifact_id"] == model_artifact_id(identity), row["name"]
    ids = [r["artifact_id"] for r in linked]
    # Escaping keeps "gpt\n4o" and "gpt\\n4o" apart; a non-string signal does not count.
    assert ids[0] != ids[1] and ids[3] == ids[4]
    assert [r["model"] for r in linked[:3]] == [
        "open\\ai/gpt\n4o",
        "open\\ai/gpt\\n4o",
        'ü 中 😀 \x1f "q" \\',
    ]
    assert len(tape.sql("SELECT * FROM artifacts WHERE kind = 'model'")) == 4


def test_a_prompt_the_user_logged_is_listed_once_as_logged(tape: Tape) -> None:
    canonical = {
        "class": "ChatPromptTemplate",
        "parts": stable(object_parts(PROMPT)),
        "partials": {},
    }
    with tape.run("eval") as run:
        logged = run.log_artifact(canonical, kind="prompt", name="answer-prompt-v1")
        _ask(tape, PROMPT, _fake(1), "Why is the sky blue?")
    tape.flush()
    (prompt,) = _spans(tape, "prompt")
    assert logged.artifact_id == json.loads(prompt["attributes"])["tracetape.prompt.hash"]
    run.link(prompt["span_id"], logged)
    tape.flush()

    rows = tape.sql(
        "SELECT name, source FROM artifacts WHERE artifact_id = ?",
        [logged.artifact_id],
        format="arrow",
    ).to_pylist()
    assert rows == [{"name": "answer-prompt-v1", "source": "logged"}]
    links = tape.sql(
        "SELECT span_id, source FROM artifact_links WHERE artifact_id = ? ORDER BY created_at",
        [logged.artifact_id],
        format="arrow",
    ).to_pylist()
    # The logging (run-level, no span: it ran before the chain) and the user's span link;
    # the derived link of that same span is not listed beside it.
    assert links == [
        {"span_id": None, "source": "logged"},
        {"span_id": prompt["span_id"], "source": "logged"},
    ]
    assert len(tape.sql("SELECT * FROM artifacts")) == 2  # the prompt and the model


def test_artifacts_of_a_run_include_the_prompts_and_models_its_spans_used(tape: Tape) -> None:
    with tape.run("eval") as run:
        _ask(tape, PROMPT, _fake(1), "Why is the sky blue?")
    _ask(tape, EDITED, GenericFakeChatModel(messages=iter([AIMessage("x")])), "Why?")
    tape.flush()

    in_run = tape.artifacts(run=run.run_id)
    assert sorted(zip(in_run.kind, in_run["name"], in_run.role, strict=True)) == [
        ("model", "toolcallingfakemodel/fake-tool-model-1", "input"),
        ("prompt", "ChatPromptTemplate", "input"),
    ]
    assert set(in_run.source) == {"derived"}
    assert sorted(tape.artifacts().kind) == ["model", "model", "prompt", "prompt"]


def test_a_llamaindex_querys_prompt_and_model_are_listed_with_lineages_ids(tape: Tape) -> None:
    from tests.fakes import llamaindex as fakes

    with tape.run("li-rag") as run:
        index = fakes.index()
        with fakes.attached(tape.recorder):
            index.as_query_engine(similarity_top_k=2).query("How long do cats sleep?")
    tape.flush()
    (llm,) = _spans(tape, "llm")

    drawn = {
        (lineage_kind, source)
        for (source, _, relation) in tape.lineage(llm["span_id"]).graph_edges
        if (lineage_kind := {"template": "prompt", "model": "model"}.get(relation))
    }
    listed = tape.artifacts(run=run.run_id)
    assert {(k, a) for k, a in zip(listed.kind, listed.artifact_id, strict=True)} == drawn
    assert sorted(k for k, _ in drawn) == ["model", "prompt"]
