"""LlamaIndex stand-ins: a scripted function-calling MockLLM, documents and a real index.

No network and no downloads: embeddings are `MockEmbedding`, the tokenizer is a plain
whitespace split (the default would fetch a tiktoken encoding), and nothing touches
NLTK.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.tools import BaseTool
from pydantic import Field

DIMENSIONS = 8

TEXTS = {
    "doc-cats": ("Cats sleep sixteen hours a day.", {"topic": "cats", "year": 2021}),
    "doc-dogs": ("Dogs were domesticated from wolves.", {"topic": "dogs", "year": 2019}),
    "doc-bees": ("Bees dance to show where flowers are.", {"topic": "bees", "year": 2023}),
}


def offline_settings() -> None:
    """Global Settings that never reach the network."""
    Settings.llm = MockLLM(max_tokens=8)
    Settings.embed_model = MockEmbedding(embed_dim=DIMENSIONS)
    Settings.tokenizer = str.split


def documents() -> list[Document]:
    return [Document(text=t, id_=i, metadata=m) for i, (t, m) in TEXTS.items()]


def index(embed_model: MockEmbedding | None = None) -> VectorStoreIndex:
    """A real VectorStoreIndex over `documents` (built before any tape records)."""
    offline_settings()
    return VectorStoreIndex.from_documents(
        documents(), embed_model=embed_model or MockEmbedding(embed_dim=DIMENSIONS)
    )


class CountingLLM(MockLLM):
    """MockLLM (it answers with the prompt itself) that counts the completions it makes."""

    calls: int = 0

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        return CompletionResponse(text=f"answer to: {prompt}")

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        self.calls += 1
        words = f"answer to: {prompt}".split(" ")

        def gen() -> CompletionResponseGen:
            for n, word in enumerate(words):
                delta = word if n == 0 else " " + word
                yield CompletionResponse(text=" ".join(words[: n + 1]), delta=delta)

        return gen()


class CountingEmbedding(MockEmbedding):
    """MockEmbedding that counts the queries it embeds."""

    queries: int = 0

    def _get_query_embedding(self, query: str) -> list[float]:
        self.queries += 1
        return super()._get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        self.queries += 1
        return super()._get_query_embedding(query)


class ScriptedToolLLM(MockLLM, FunctionCallingLLM):  # type: ignore[misc]
    """MockLLM that answers chat calls from a script; tool calls ride in additional_kwargs.

    Each script entry is a string (a final answer), a list of
    ``(tool_name, kwargs, call_id)`` tool calls, or an exception to raise.
    """

    script: list[Any] = Field(default_factory=list)
    calls: int = 0

    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = script

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            model_name="scripted-tool-llm", is_function_calling_model=True, is_chat_model=True
        )

    def _next(self) -> ChatResponse:
        entry = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, str):
            message = ChatMessage(role=MessageRole.ASSISTANT, content=entry)
        else:
            calls = [{"name": n, "args": a, "id": i} for n, a, i in entry]
            message = ChatMessage(
                role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": calls}
            )
        return ChatResponse(
            message=message, raw={"usage": {"prompt_tokens": 11, "completion_tokens": 7}}
        )

    def _chunks(self) -> list[ChatResponse]:
        """The next answer streamed word by word (each chunk carries the text so far)."""
        whole = self._next()
        words = (whole.message.content or "").split(" ")
        out: list[ChatResponse] = []
        for n, word in enumerate(words):
            text = " ".join(words[: n + 1])
            message = ChatMessage(role=MessageRole.ASSISTANT, content=text)
            delta = word if n == 0 else " " + word
            out.append(ChatResponse(message=message, delta=delta, raw=whole.raw))
        return out

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._next()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._next()

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        chunks = self._chunks()

        def gen() -> ChatResponseGen:
            yield from chunks

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        chunks = self._chunks()

        async def gen() -> ChatResponseAsyncGen:
            for chunk in chunks:
                yield chunk

        return gen()

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if user_msg is not None:
            if isinstance(user_msg, str):
                user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
            messages.append(user_msg)
        specs = [t.metadata.to_openai_tool() for t in tools]
        return {"messages": messages, "tools": specs, **kwargs}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        calls = response.message.additional_kwargs.get("tool_calls", [])
        return [
            ToolSelection(tool_id=c["id"], tool_name=c["name"], tool_kwargs=c["args"])
            for c in calls
        ]


@contextmanager
def attached(recorder: Any) -> Iterator[Any]:
    """tracetape's LlamaIndex handler pair attached for one test, checked on the way out:
    no error swallowed by LlamaIndex's dispatcher in strict mode, no span left open."""
    from tracetape.capture.llamaindex import handlers
    from tracetape.capture.llamaindex.span_handler import strict_failures

    pair = handlers(recorder)
    pair.attach()
    strict_failures().clear()
    yield pair
    pair.detach()
    assert strict_failures() == []
    assert pair.open_spans == 0
