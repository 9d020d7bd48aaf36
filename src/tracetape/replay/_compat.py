"""Everything private of LangChain that replay touches, in one place.

Replay answers calls below LangChain's callbacks, so the replayed run is recorded like
any other (model, tool and retriever spans with the answers played back), while no
provider, tool body or retriever backend runs. That needs these private seams; each has
a test in ``tests/unit/replay/test_compat.py`` that fails when LangChain changes it:

- ``BaseChatModel._generate_with_cache`` / ``_agenerate_with_cache``: where a chat
  model call turns into a provider request, after ``on_chat_model_start``.
- ``BaseChatModel._should_stream``: ``stream()`` calls ``_stream`` directly unless this
  says no; during playback it says no, so a streamed call also reaches the above.
- ``BaseChatModel._get_invocation_params``: a model's own params, to tell a recorded
  call's arguments (bound tools, tool choice, ...) from its model's configuration.
- ``BaseLLM._generate_helper`` / ``_agenerate_helper``: where a completion model's
  prompts turn into a provider request, after ``on_llm_start`` (one run per prompt);
  its tail (``on_llm_end`` per prompt, ``LLMResult.run``) is done here for answers.
- ``BaseLLM.stream`` / ``astream``: they call ``_stream`` directly (no ``_should_stream``
  here); during playback they yield the answer of ``invoke`` as one chunk, as they do
  for a model that does not stream.
- ``BaseTool._run`` / ``_arun`` and ``BaseRetriever._get_relevant_documents`` /
  ``_aget_relevant_documents``: the tool's and retriever's own bodies, overridden by
  every subclass, so each class's own definition is wrapped.

The wrappers are installed on first use, per class, and call straight through when no
replay is active in the current context (one context-variable lookup). The ``openai``
SDK's own seams (a raw client called inside a node) are in `openai_sdk`.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any, Protocol

from tracetape.replay._patching import MARK, answering, patch, subclasses

_lock = threading.RLock()


class Hooks(Protocol):
    """What the wrappers ask the active player. ``None`` means: run for real."""

    def model(self, model: Any, messages: list[Any]) -> Any | None: ...
    def completion(self, llm: Any, prompt: str) -> list[str] | None: ...
    def chat_completion(self, kwargs: Any) -> Any | None: ...
    def stream_allowed(self) -> bool: ...
    def tool(self, tool: Any) -> tuple[Any] | None: ...
    def retriever(self, retriever: Any) -> tuple[Any] | None: ...
    def embedding(self, embeddings: Any, method: str, texts: Any) -> tuple[Any] | None: ...
    def sdk_embedding(self, kwargs: Any) -> Any | None: ...


active: contextvars.ContextVar[Hooks | None] = contextvars.ContextVar(
    "tracetape_replay_player", default=None
)
# Set while a wrapped body runs for real, so an override calling super() (a second
# wrapper) passes through instead of consuming another recorded call.
_passing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tracetape_replay_passing", default=False
)


def _answer_model(self: Any, messages: list[Any]) -> Any | None:
    hooks = active.get()
    return hooks.model(self, messages) if hooks is not None else None


def _wrap_generate(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        answer = _answer_model(self, messages)
        return answer if answer is not None else original(self, messages, *args, **kwargs)

    setattr(wrapper, MARK, original)
    return wrapper


def _wrap_agenerate(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        answer = _answer_model(self, messages)
        if answer is not None:
            return answer
        return await original(self, messages, *args, **kwargs)

    setattr(wrapper, MARK, original)
    return wrapper


def _wrap_should_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = active.get()
        if hooks is not None and not hooks.stream_allowed():
            return False
        return original(self, *args, **kwargs)

    setattr(wrapper, MARK, original)
    return wrapper


def _answer_prompts(self: Any, prompts: list[str]) -> list[list[str]]:
    """Recorded texts for the leading prompts the player answers (it stops at the first
    to run for real)."""
    hooks = active.get()
    answers: list[list[str]] = []
    if hooks is None:
        return answers
    for i, prompt in enumerate(prompts):
        texts = hooks.completion(self, prompt)
        if texts is None:
            # Once one runs for real (pinned live, or live after a divergence), all the
            # rest do too: each is still asked, so it is counted as such.
            for rest in prompts[i + 1 :]:
                hooks.completion(self, rest)
            break
        answers.append(texts)
    return answers


def _played(answers: list[list[str]]) -> Any:
    """An `LLMResult` of recorded texts, one generation list per prompt."""
    from langchain_core.outputs import Generation, LLMResult

    return LLMResult(generations=[[Generation(text=t) for t in texts] for texts in answers])


def _joined(played: Any, rest: Any, managers: list[Any]) -> Any:
    from langchain_core.outputs import RunInfo

    if rest is not None:
        played.generations.extend(rest.generations)
        played.llm_output = rest.llm_output
    played.run = [RunInfo(run_id=m.run_id) for m in managers] if managers else None
    return played


def _wrap_generate_helper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(
        self: Any, prompts: list[str], stop: Any, managers: list[Any], **kwargs: Any
    ) -> Any:
        try:
            answers = _answer_prompts(self, prompts)
        except BaseException as error:
            for manager in managers:
                manager.on_llm_error(error, response=_played([]))
            raise
        if not answers:
            return original(self, prompts, stop, managers, **kwargs)
        played = _played(answers)
        for manager, output in zip(managers, played.flatten(), strict=False):
            manager.on_llm_end(output)
        n = len(answers)
        rest = None
        if n < len(prompts):
            rest = original(self, prompts[n:], stop, managers[n:], **kwargs)
        return _joined(played, rest, managers)

    setattr(wrapper, MARK, original)
    return wrapper


def _wrap_agenerate_helper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(
        self: Any, prompts: list[str], stop: Any, managers: list[Any], **kwargs: Any
    ) -> Any:
        try:
            answers = _answer_prompts(self, prompts)
        except BaseException as error:
            for manager in managers:
                await manager.on_llm_error(error, response=_played([]))
            raise
        if not answers:
            return await original(self, prompts, stop, managers, **kwargs)
        played = _played(answers)
        for manager, output in zip(managers, played.flatten(), strict=False):
            await manager.on_llm_end(output)
        n = len(answers)
        rest = None
        if n < len(prompts):
            rest = await original(self, prompts[n:], stop, managers[n:], **kwargs)
        return _joined(played, rest, managers)

    setattr(wrapper, MARK, original)
    return wrapper


def _wrap_llm_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        hooks = active.get()
        if hooks is not None and not hooks.stream_allowed():
            # As for a model that does not stream: one chunk, the whole answer.
            yield self.invoke(input, config=config, **kwargs)
            return
        yield from original(self, input, config, **kwargs)

    setattr(wrapper, MARK, original)
    return wrapper


def _wrap_llm_astream(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def wrapper(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        hooks = active.get()
        if hooks is not None and not hooks.stream_allowed():
            yield await self.ainvoke(input, config=config, **kwargs)
            return
        async for chunk in original(self, input, config, **kwargs):
            yield chunk

    setattr(wrapper, MARK, original)
    return wrapper


Ask = Callable[[Hooks, Any], "tuple[Any] | None"]


def _wrap_body(original: Callable[..., Any], ask: Ask) -> Callable[..., Any]:
    """A tool/retriever body answered by ``ask`` (a 1-tuple) or run for real (None)."""

    def decide(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any] | None:
        hooks = active.get()
        if hooks is None or _passing.get():
            return None
        return ask(hooks, self)

    return answering(original, decide, _passing, active)


def _ask_tool(hooks: Hooks, tool: Any) -> tuple[Any] | None:
    return hooks.tool(tool)


def _ask_retriever(hooks: Hooks, retriever: Any) -> tuple[Any] | None:
    return hooks.retriever(retriever)


def _ask_embedding(embeddings: Any, method: str, texts: Any) -> tuple[Any] | None:
    """Capture's embedding wrapper asks this before it calls the provider (also inside
    a tool that runs for real, as a model call there is; its own wrapper stops nested
    calls)."""
    hooks = active.get()
    return hooks.embedding(embeddings, method, texts) if hooks is not None else None


def install() -> None:
    """Wrap the seams on every class defined so far (idempotent; cheap to repeat).

    Run at the start of each replay: tool and retriever classes defined since the last
    one are wrapped then (the app's objects exist before it is replayed).
    """
    from langchain_core.language_models import BaseChatModel, BaseLLM
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import BaseTool

    from tracetape.capture.langchain import embeddings as lc_embeddings

    with _lock:
        patch(BaseChatModel, "_generate_with_cache", _wrap_generate)
        patch(BaseChatModel, "_agenerate_with_cache", _wrap_agenerate)
        patch(BaseChatModel, "_should_stream", _wrap_should_stream)
        patch(BaseLLM, "_generate_helper", _wrap_generate_helper)
        patch(BaseLLM, "_agenerate_helper", _wrap_agenerate_helper)
        patch(BaseLLM, "stream", _wrap_llm_stream)
        patch(BaseLLM, "astream", _wrap_llm_astream)
        body = functools.partial(_wrap_body, ask=_ask_tool)
        for cls in subclasses(BaseTool):
            patch(cls, "_run", body)
            patch(cls, "_arun", body)
        body = functools.partial(_wrap_body, ask=_ask_retriever)
        for cls in subclasses(BaseRetriever):
            patch(cls, "_get_relevant_documents", body)
            patch(cls, "_aget_relevant_documents", body)
        # Embeddings have no LangChain seam of their own: capture's wrapper (on every
        # Embeddings class) asks the player before it calls the provider.
        lc_embeddings.set_answerer(_ask_embedding)
        lc_embeddings.ensure_patched()
    from tracetape.replay import openai_sdk  # the raw SDK, when installed

    openai_sdk.install()


def invocation_params(model: Any) -> dict[str, Any]:
    """What a call of ``model`` without keyword arguments reports as its invocation
    params (``BaseChatModel._get_invocation_params``): the model's own configuration,
    which a recorded call's params hold too, besides the call's own arguments."""
    params: dict[str, Any] = model._get_invocation_params(stop=None)
    return dict(params)
