"""Every prompt-template type, recorded through ``tape.langchain()`` into a real tape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import (
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    FewShotPromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
)

import tracetape


def chat_prompt(system: str = "You are {persona}.") -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages(
        [("system", system), MessagesPlaceholder("history"), ("human", "{question}")]
    )


def few_shot_string() -> FewShotPromptTemplate:
    return FewShotPromptTemplate(
        examples=[{"word": "happy", "antonym": "sad"}, {"word": "tall", "antonym": "short"}],
        example_prompt=PromptTemplate.from_template("Word: {word}\nAntonym: {antonym}"),
        prefix="Give the antonym of every word.",
        suffix="Word: {input}\nAntonym:",
        input_variables=["input"],
    )


def few_shot_chat() -> ChatPromptTemplate:
    examples = FewShotChatMessagePromptTemplate(
        examples=[{"q": "2+2", "a": "4"}, {"q": "2+3", "a": "5"}],
        example_prompt=ChatPromptTemplate.from_messages([("human", "{q}"), ("ai", "{a}")]),
    )
    return ChatPromptTemplate.from_messages(
        [("system", "You are a calculator."), examples, ("human", "{q}")]
    )


def prompt_spans(tape: Any) -> list[dict[str, Any]]:
    tape.flush()
    frame = tape.sql(
        "select kind, operation, input, output, "
        "attributes->>'tracetape.prompt.class' as cls, "
        "attributes->>'tracetape.prompt.hash' as hash, "
        "attributes->>'tracetape.prompt.template_format' as format, "
        "attributes->'tracetape.prompt.template' as template, "
        "attributes->'tracetape.prompt.input_variables' as variables, "
        "attributes->'tracetape.prompt.variable_values' as values_, "
        "(attributes->>'tracetape.prompt.example_count')::INT as examples "
        "from spans where kind = 'prompt' order by start_time"
    )
    rows = frame.to_dict("records")
    for row in rows:
        for key in ("input", "output", "template", "variables", "values_"):
            row[key] = json.loads(row[key])
    return rows


def test_prompt_template_records_text_format_variables_rendering(tape):
    prompt = PromptTemplate.from_template("Summarise {topic} in {n} words.")
    text = prompt.invoke({"topic": "tides", "n": 5}, config={"callbacks": [tape.langchain()]})
    assert text.to_string() == "Summarise tides in 5 words."
    (row,) = prompt_spans(tape)
    assert (row["kind"], row["operation"], row["cls"], row["format"]) == (
        "prompt",
        "format_prompt",
        "PromptTemplate",
        "f-string",
    )
    assert row["template"] == [
        {"role": "text", "template": "Summarise {topic} in {n} words.", "format": "f-string"}
    ]
    assert row["variables"] == ["n", "topic"]
    assert row["values_"] == row["input"] == {"topic": "tides", "n": 5}
    assert row["output"] == "Summarise tides in 5 words."


def test_chat_prompt_with_placeholder_records_messages(tape):
    handler = tape.langchain()
    chat_prompt().invoke(
        {
            "persona": "a pirate",
            "history": [HumanMessage("ahoy"), AIMessage("arr")],
            "question": "where is the gold?",
        },
        config={"callbacks": [handler]},
    )
    (row,) = prompt_spans(tape)
    assert row["cls"] == "ChatPromptTemplate"
    assert row["template"] == [
        {"role": "system", "template": "You are {persona}.", "format": "f-string"},
        {"role": "placeholder", "variable": "history", "optional": False},
        {"role": "user", "template": "{question}", "format": "f-string"},
    ]
    assert row["variables"] == ["history", "persona", "question"]
    # Placeholder values are messages, recorded in the semconv message shape.
    assert [m["role"] for m in row["values_"]["history"]] == ["user", "assistant"]
    assert row["values_"]["history"][1]["parts"][0]["content"] == "arr"
    rendered = [(m["role"], m["parts"][0]["content"]) for m in row["output"]]
    assert rendered == [
        ("system", "You are a pirate."),
        ("user", "ahoy"),
        ("assistant", "arr"),
        ("user", "where is the gold?"),
    ]


def test_few_shot_prompt_template(tape):
    few_shot_string().invoke({"input": "big"}, config={"callbacks": [tape.langchain()]})
    (row,) = prompt_spans(tape)
    assert row["cls"] == "FewShotPromptTemplate"
    assert row["examples"] == 2
    prefix, examples, suffix = row["template"]
    assert prefix == {
        "role": "prefix",
        "template": "Give the antonym of every word.",
        "format": "f-string",
    }
    assert examples["example_prompt"] == [
        {"role": "text", "template": "Word: {word}\nAntonym: {antonym}", "format": "f-string"}
    ]
    assert examples["examples"][1] == {"word": "tall", "antonym": "short"}
    assert suffix["template"] == "Word: {input}\nAntonym:"
    assert row["variables"] == ["input"]
    assert row["output"].startswith("Give the antonym of every word.\n\nWord: happy")
    assert row["output"].endswith("Word: big\nAntonym:")


def test_few_shot_chat_message_prompt_template(tape):
    few_shot_chat().invoke({"q": "3+3"}, config={"callbacks": [tape.langchain()]})
    (row,) = prompt_spans(tape)
    assert row["examples"] == 2
    assert row["template"][1] == {
        "role": "examples",
        "example_prompt": [
            {"role": "user", "template": "{q}", "format": "f-string"},
            {"role": "assistant", "template": "{a}", "format": "f-string"},
        ],
        "examples": [{"q": "2+2", "a": "4"}, {"q": "2+3", "a": "5"}],
    }
    rendered = [(m["role"], m["parts"][0]["content"]) for m in row["output"]]
    assert rendered == [
        ("system", "You are a calculator."),
        ("user", "2+2"),
        ("assistant", "4"),
        ("user", "2+3"),
        ("assistant", "5"),
        ("user", "3+3"),
    ]


def test_mustache_format_is_recorded(tape):
    prompt = ChatPromptTemplate.from_messages(
        [("human", "Hi {{name}}")], template_format="mustache"
    )
    prompt.invoke({"name": "Ada"}, config={"callbacks": [tape.langchain()]})
    (row,) = prompt_spans(tape)
    assert row["format"] == "mustache"
    assert row["output"][0]["parts"][0]["content"] == "Hi Ada"


BUILDERS = [
    pytest.param(
        lambda: PromptTemplate.from_template("Tell me about {x}."),
        {"x": "a"},
        {"x": "b"},
        id="prompt",
    ),
    pytest.param(
        chat_prompt,
        {"persona": "a", "history": [], "question": "q1"},
        {"persona": "b", "history": [HumanMessage("hi")], "question": "q2"},
        id="chat",
    ),
    pytest.param(few_shot_string, {"input": "a"}, {"input": "b"}, id="few_shot"),
    pytest.param(few_shot_chat, {"q": "1"}, {"q": "2"}, id="few_shot_chat"),
]


@pytest.mark.parametrize("build, first, second", BUILDERS)
def test_hash_versions_the_template_not_the_values(tape, build, first, second):
    handler = tape.langchain()
    build().invoke(first, config={"callbacks": [handler]})
    build().invoke(second, config={"callbacks": [handler]})  # a new, equal object
    a, b = prompt_spans(tape)
    assert a["input"] != b["input"]
    assert a["hash"] == b["hash"]


def test_any_edit_changes_the_hash(tape):
    handler = tape.langchain()
    values = {"persona": "a", "history": [], "question": "q"}
    chat_prompt().invoke(values, config={"callbacks": [handler]})
    chat_prompt("You are {persona}!").invoke(values, config={"callbacks": [handler]})
    few_shot_string().invoke({"input": "x"}, config={"callbacks": [handler]})
    edited = few_shot_string()
    assert edited.examples is not None
    edited.examples[0]["antonym"] = "unhappy"
    edited.invoke({"input": "x"}, config={"callbacks": [handler]})
    hashes = [row["hash"] for row in prompt_spans(tape)]
    assert len(set(hashes)) == 4


def test_prompt_inside_an_instrumented_chain(tape):
    tracetape.instrument(tape)
    chain = PromptTemplate.from_template("Echo {x}") | (lambda value: value.to_string().upper())
    assert chain.invoke({"x": "hi"}) == "ECHO HI"
    (row,) = prompt_spans(tape)
    assert row["output"] == "Echo hi"
    parent = tape.sql(
        "select p.kind from spans c join spans p on c.parent_span_id = p.span_id "
        "where c.kind = 'prompt'"
    ).iloc[0, 0]
    assert parent == "chain"
