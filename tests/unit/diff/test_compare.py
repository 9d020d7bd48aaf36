"""Comparing two aligned steps: which attributes make a cause, which an effect."""

from __future__ import annotations

from typing import Any

from tracetape.diff.causes import PromptChange, RetrieverChange
from tracetape.diff.changes import FieldChange
from tracetape.diff.compare import (
    document_ids,
    model_settings,
    rendering_implied,
    step_causes,
    step_effects,
)
from tracetape.diff.effects import DocumentsChange, OutputChange, ToolArgsChange
from tracetape.diff.steps import Step


def step(kind: str, output: Any = None, **attributes: Any) -> Step:
    return Step("0" * 16, kind, kind, (kind, ""), attributes, output)


def test_a_prompt_cut_at_the_display_limit_still_differs_by_its_hash() -> None:
    shown = {"tracetape.prompt.template": "Answer from … [+900 chars]"}
    a = step("prompt", **shown, **{"tracetape.prompt.hash": "sha256:aa"})
    b = step("prompt", **shown, **{"tracetape.prompt.hash": "sha256:bb"})

    (change,) = step_causes(a, b)

    assert isinstance(change, PromptChange)
    assert change.fields == (FieldChange("hash", "sha256:aa", "sha256:bb"),)
    assert step_causes(a, a) == []


def test_model_identity_is_not_repeated_among_its_params() -> None:
    llm = step(
        "llm",
        **{
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "tracetape.model.invocation_params": {
                "model": "gpt-4o", "_type": "openai-chat", "temperature": 0.2, "stop": None,
            },
            "gen_ai.tool.definitions": '[{"type": "function", "function": {"name": "add"}}]',
        },
    )  # fmt: skip

    assert model_settings(llm) == {
        "request_model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "params.temperature": 0.2,
        "params.tools": ["add"],
    }


def test_retriever_k_counts_once_and_documents_are_the_effect() -> None:
    a = step(
        "retriever",
        [{"id": "d1"}, {"id": "d2"}],
        **{"tracetape.retriever.search_kwargs": {"k": 2}, "tracetape.retriever.k": 2},
    )
    b = step(
        "retriever",
        [{"id": "d2"}, {"id": "d1"}, {"id": "d3"}],
        **{"tracetape.retriever.search_kwargs": {"k": 3}, "tracetape.retriever.k": 3},
    )

    assert step_causes(a, b) == [
        RetrieverChange(name="retriever", fields=(FieldChange("search_kwargs.k", 2, 3),))
    ]
    (documents,) = step_effects(a, b, "#1 retriever")
    assert isinstance(documents, DocumentsChange)
    assert (documents.added, documents.removed) == (("d3",), ())
    assert documents.reranked == (("d1", 1, 2), ("d2", 2, 1))


def test_documents_without_ids_are_told_apart_by_their_text() -> None:
    assert document_ids(step("retriever", [{"content": "Cats sleep."}, "raw"])) == (
        "Cats sleep.",
        "raw",
    )


def test_a_tool_call_shows_its_arguments_and_its_output() -> None:
    a = step("tool", "3", **{"gen_ai.tool.call.arguments": '{"a": 1, "b": {"c": 2}}'})
    b = step("tool", "4", **{"gen_ai.tool.call.arguments": '{"a": 1, "b": {"c": 3}}'})

    args, output = step_effects(a, b, "#2 tool add")

    assert args == ToolArgsChange(step="#2 tool add", fields=(FieldChange("b.c", 2, 3),))
    assert output == OutputChange(step="#2 tool add", text_a="3", text_b="4")


def prompt(template: str, values: str, *, cut: bool = False, names: str = "q") -> Step:
    attributes: dict[str, Any] = {
        "tracetape.prompt.template": template,
        "tracetape.prompt.input_variables": list(names),
        "tracetape.prompt.variable_values": values,
    }
    if cut:
        attributes["tracetape.truncated"] = ["tracetape.prompt.variable_values"]
    return step("prompt", template, **attributes)


def test_a_rendering_is_implied_by_its_template_edit_only_with_the_same_values() -> None:
    old = prompt("Answer: {q}", '{"q": "cats?"}')

    assert rendering_implied(old, prompt("Answer briefly: {q}", '{"q": "cats?"}'))
    assert not rendering_implied(old, prompt("Answer briefly: {q}", '{"q": "dogs?"}'))
    # Values shown cut at the display limit prove nothing; nor do values never recorded.
    cut = prompt("Answer briefly: {q}", '{"q": "cats?"}', cut=True)
    assert not rendering_implied(old, cut) and not rendering_implied(cut, cut)
    unrecorded = step("prompt", "x", **{"tracetape.prompt.input_variables": ["q"]})
    assert not rendering_implied(unrecorded, unrecorded)
    # Another variable: not only the template's text changed.
    assert not rendering_implied(old, prompt("{q} {c}", '{"q": "cats?"}', names="qc"))
    # Ids generated afresh on every call (a message's) are not values that differ.
    with_ids = '{"q": [{"id": "run-%s", "content": "cats?"}]}'
    first = prompt("A: {q}", with_ids % "01a2477d-625a-779e-ae24-5915362293f9")
    again = prompt("B: {q}", with_ids % "6d1c0f6e-0b7f-4d53-9d0b-3f0b1f0e2c11")
    assert rendering_implied(first, again)
