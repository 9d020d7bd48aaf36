"""What ids name, and what makes two model calls the same model artifact."""

from __future__ import annotations

import pytest

from tracetape.lineage import derived
from tracetape.lineage.ids import classify
from tracetape.spans import semconv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4BF92F3577B34DA6A3CE929D0E0E4736", ("trace", "4bf92f3577b34da6a3ce929d0e0e4736")),
        ("00f067aa0ba902b7", ("span", "00f067aa0ba902b7")),
        (" run-1f0c ", ("run", "run-1f0c")),
        ("env-9ab2", ("environment", "env-9ab2")),
        ("sha256:ABC", ("artifact", "sha256:abc")),
        ("4bf92f35", ("trace-prefix", "4bf92f35")),
    ],
)
def test_an_id_says_what_it_names(text: str, expected: tuple[str, str]) -> None:
    assert classify(text) == expected


@pytest.mark.parametrize("text", ["", "what?", "0" * 33, "run_1", "g" * 16])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="no tracetape id"):
        classify(text)


BASE = {
    semconv.PROVIDER_NAME: "openai",
    semconv.REQUEST_MODEL: "gpt-4o",
    semconv.RESPONSE_MODEL: "gpt-4o-2024-08-06",
    semconv.MODEL_SYSTEM_FINGERPRINT: "fp_1",
    semconv.MODEL_CLASS: "langchain_openai.chat_models.base.ChatOpenAI",
    semconv.REQUEST_TEMPERATURE: 0.2,
}


def _model_id(attrs: dict[str, object]) -> str:
    identity = derived.model_identity(attrs)
    assert identity is not None
    return derived.model_artifact_id(identity)


def test_a_model_artifact_is_its_version_signals_and_not_its_params() -> None:
    same = _model_id({**BASE, semconv.REQUEST_TEMPERATURE: 0.9})
    assert _model_id(BASE) == same
    assert _model_id({**BASE, semconv.MODEL_SYSTEM_FINGERPRINT: "fp_2"}) != same
    assert _model_id({**BASE, semconv.RESPONSE_MODEL: "gpt-4o-2024-11-20"}) != same
    identity = derived.model_identity(BASE)
    assert identity is not None
    assert derived.model_name(identity) == "openai/gpt-4o-2024-08-06"
    assert derived.request_params(BASE) == {"temperature": 0.2}
    assert derived.model_identity({semconv.REQUEST_TEMPERATURE: 1.0}) is None
