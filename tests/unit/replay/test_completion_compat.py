"""The private seam replay wraps for completion models (``BaseLLM``): fails when
LangChain changes it."""

from __future__ import annotations

import inspect
from typing import Any

from langchain_core.language_models import BaseLLM, FakeListLLM

from tracetape.replay import _compat


def _params(function: Any) -> list[str]:
    return list(inspect.signature(inspect.unwrap(function)).parameters)


def test_the_generate_helpers_take_prompts_and_one_run_manager_per_prompt():
    for name in ("_generate_helper", "_agenerate_helper"):
        assert _params(getattr(BaseLLM, name))[:4] == ["self", "prompts", "stop", "run_managers"]
    source = inspect.getsource(inspect.unwrap(BaseLLM.generate))
    assert source.count("self._generate_helper(") == 2  # uncached and cache-missing prompts
    helper = inspect.getsource(inspect.unwrap(BaseLLM._generate_helper))  # pyright: ignore[reportPrivateUsage]
    assert "on_llm_end(flattened_output)" in helper and "output.run = [" in helper


def test_a_prompt_answered_by_the_hooks_never_reaches_the_model():
    _compat.install()
    llm = FakeListLLM(responses=["real"])
    asked: list[str] = []

    class Hooks:
        def completion(self, llm: object, prompt: str) -> list[str]:
            asked.append(prompt)
            return [f"played {prompt}"]

    token = _compat.active.set(Hooks())  # pyright: ignore[reportArgumentType]
    try:
        assert llm.invoke("one") == "played one"
        assert llm.batch(["a", "b"]) == ["played a", "played b"]
    finally:
        _compat.active.reset(token)
    assert asked == ["one", "a", "b"]
    assert llm.invoke("two") == "real"  # idle: straight through


def test_stream_calls_the_model_s_own_stream_without_asking_whether_to():
    _compat.install()
    for name, body in (("stream", "self._stream("), ("astream", "self._astream(")):
        source = inspect.getsource(getattr(BaseLLM, name).__tracetape_replay_original__)
        assert body in source and "_should_stream" not in source
