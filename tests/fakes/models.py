"""Model stand-ins: LangChain's fake chat model, subclassed to call tools."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk


class ToolCallingFakeModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts ``bind_tools`` and replays scripted messages."""

    model_name: str = "fake-tool-model-1"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[getattr(t, "name", str(t)) for t in tools], **kwargs)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any):
        # The parent splits text content into chunks and loses tool calls of a message
        # with empty content; stream each scripted message as one chunk instead.
        result = self._generate(messages, stop=stop, run_manager=None, **kwargs)
        message = result.generations[0].message
        chunk = AIMessageChunk(
            content=message.content,
            id=message.id,
            tool_call_chunks=[
                {
                    "name": tc["name"],
                    "args": json.dumps(tc["args"]),
                    "id": tc["id"],
                    "index": i,
                    "type": "tool_call_chunk",
                }
                for i, tc in enumerate(getattr(message, "tool_calls", []) or [])
            ],
        )
        generation = ChatGenerationChunk(message=chunk)
        if run_manager is not None:
            run_manager.on_llm_new_token(str(message.content), chunk=generation)
        yield generation


def script(*messages: AIMessage) -> Iterator[AIMessage]:
    return iter(messages)


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}
