"""`DemoChatModel`: the demo's only stand-in, a deterministic tool-calling chat model.

It reads the conversation like an agent would: from the last user question it plans
which tools to call (an order id -> ``lookup_order``; otherwise ``search_docs``; an
arithmetic expression -> ``calculator``), calls them one per turn, and answers from
their results. A failed tool ends the plan with an apology. Token usage is counted in
words so the tape shows tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

_ORDER_ID = re.compile(r"\b[A-Z]-\d{3,5}\b")
_EXPRESSION = re.compile(r"\d+(?:\.\d+)?(?:\s*[-+*/]\s*\d+(?:\.\d+)?)+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "to",
        "of",
        "is",
        "it",
        "in",
        "on",
        "for",
        "my",
        "what",
        "how",
        "does",
        "do",
        "can",
        "you",
        "i",
    ]
)


def plan(question: str) -> list[tuple[str, dict[str, str]]]:
    """The tool calls (name, args) the model makes, in order, for one question."""
    steps: list[tuple[str, dict[str, str]]] = []
    order = _ORDER_ID.search(question)
    if order:
        steps.append(("lookup_order", {"order_id": order.group()}))
    else:
        steps.append(("search_docs", {"query": question}))
    expression = _EXPRESSION.search(question)
    if expression:
        steps.append(("calculator", {"expression": expression.group()}))
    return steps


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower())) - _STOP


def _best_line(question: str, result: str) -> str:
    """The search result line sharing most words with the question."""
    lines = [line.split(": ", 1)[-1] for line in result.splitlines() if line.strip()]
    if not lines:
        return "the FAQ has nothing on that"
    wanted = _words(question)
    return max(lines, key=lambda line: len(wanted & _words(line)))


def answer(question: str, results: Sequence[ToolMessage]) -> str:
    """The final answer composed from the tool results."""
    failed = [r for r in results if r.status == "error"]
    if failed:
        return f"Sorry, I could not complete that: {failed[0].text}"
    parts: list[str] = []
    for result in results:
        if result.name == "search_docs":
            parts.append(f"From the FAQ: {_best_line(question, result.text)}")
        elif result.name == "calculator":
            parts.append(f"The total is {result.text}.")
        else:
            parts.append(f"Your {result.text}.")
    return " ".join(parts)


def _count(messages: Sequence[BaseMessage]) -> int:
    return sum(
        len(m.text.split()) + len(str(getattr(m, "tool_calls", "")).split()) for m in messages
    )


class DemoChatModel(BaseChatModel):
    """A fake chat model that calls the demo's tools deterministically, then answers.

    Example:
        >>> model = DemoChatModel().bind_tools(tools)
        >>> model.invoke([HumanMessage("Where is my order A-1042?")]).tool_calls[0]["name"]
        'lookup_order'
    """

    model_name: str = "tracetape-demo-1"
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "tracetape-demo"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "tracetape"
        params["ls_model_name"] = self.model_name
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tool definitions (OpenAI format) the way real chat models do."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        last_human = max(
            (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1
        )
        question = messages[last_human].text if last_human >= 0 else ""
        results = [m for m in messages[last_human + 1 :] if isinstance(m, ToolMessage)]
        steps = plan(question)
        turn = sum(isinstance(m, AIMessage) for m in messages[last_human + 1 :]) + 1
        if len(results) < len(steps) and not any(r.status == "error" for r in results):
            name, args = steps[len(results)]
            call = ToolCall(name=name, args=args, id=f"call_{turn}_{name}", type="tool_call")
            message = AIMessage(content="", tool_calls=[call])
            finish = "tool_calls"
        else:
            message = AIMessage(content=answer(question, results))
            finish = "stop"
        input_tokens = _count(messages)
        output_tokens = max(_count([message]), 1)
        message.usage_metadata = UsageMetadata(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
        )
        message.response_metadata = {"model_name": self.model_name, "finish_reason": finish}
        message.id = f"demo-{turn}-{len(messages)}"
        return ChatResult(generations=[ChatGeneration(message=message)])
