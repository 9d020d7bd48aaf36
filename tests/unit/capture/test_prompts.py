"""The template walker and the template version hash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.load import dumpd
from langchain_core.messages import SystemMessage
from langchain_core.prompts import (
    ChatMessagePromptTemplate,
    ChatPromptTemplate,
    MessagesPlaceholder,
    PromptTemplate,
)

from tracetape.capture.langchain.prompts import (
    formats,
    object_parts,
    serialized_parts,
    stable,
    template_hash,
)

ROOT = Path(__file__).resolve().parents[3]


def version(prompt) -> str:
    return template_hash(type(prompt).__name__, object_parts(prompt), prompt.partial_variables)


def sample() -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages(
        [
            SystemMessage("Fixed rules."),
            ("system", "You are {persona}."),
            MessagesPlaceholder("history", optional=True, n_messages=4),
            ChatMessagePromptTemplate.from_template("{note}", role="critic"),
            (
                "human",
                [{"type": "text", "text": "{q}"}, {"type": "image_url", "image_url": "{image}"}],
            ),
        ]
    )


def test_walker_covers_static_placeholder_custom_role_and_multimodal_parts():
    assert object_parts(sample()) == [
        {"role": "system", "text": "Fixed rules."},
        {"role": "system", "template": "You are {persona}.", "format": "f-string"},
        {"role": "placeholder", "variable": "history", "optional": True, "n_messages": 4},
        {"role": "critic", "template": "{note}", "format": "f-string"},
        {"role": "user", "template": "{q}", "format": "f-string"},
        {"role": "user", "template": {"url": "{image}"}, "format": "f-string", "type": "image"},
    ]


@pytest.mark.parametrize(
    "prompt",
    [
        PromptTemplate.from_template("Hi {name}"),
        PromptTemplate.from_template("Hi {{name}}", template_format="mustache"),
        sample(),
    ],
)
def test_serialized_walk_matches_object_walk(prompt):
    # Both paths version a template alike, whichever the handler can see.
    assert serialized_parts(dumpd(prompt)) == object_parts(prompt)


def test_formats_are_collected_and_distinct():
    parts = object_parts(PromptTemplate.from_template("{{a}}", template_format="mustache"))
    assert formats(parts) == ["mustache"]


def test_hash_ignores_values_and_object_identity_but_not_edits():
    assert version(sample()) == version(sample())
    edited = sample()
    edited.messages[1].prompt.template = "You are {persona}!"  # type: ignore[union-attr]
    assert version(edited) != version(sample())
    other_role = ChatPromptTemplate.from_messages([("human", "You are {persona}.")])
    same_text = ChatPromptTemplate.from_messages([("system", "You are {persona}.")])
    assert version(other_role) != version(same_text)


def today() -> str:
    return "2024-01-01"


def test_partials_version_the_template_callables_by_name():
    base = PromptTemplate.from_template("{day}: {x}")
    assert version(base.partial(day=today)) == version(base.partial(day=today))
    assert version(base.partial(day="mon")) != version(base.partial(day="tue"))
    assert stable(today) == {"callable": f"{__name__}.today"}
    assert "0x" not in str(stable(object()))


def test_hash_is_the_same_in_another_process():
    code = "from tests.unit.capture.test_prompts import sample, version; print(version(sample()))"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    assert out.stdout.strip() == version(sample())
