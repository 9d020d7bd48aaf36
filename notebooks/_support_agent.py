"""A support agent with three things wrong, for ``02_find_a_bad_response.ipynb``.

The demo's LangGraph support agent (its FAQ retriever, its ``search_docs``,
``calculator`` and ``lookup_order`` tools, a ``ToolNode`` that turns a tool's exception
into a message the model reads) with one more tool and a different stand-in model:

- ``track_parcel`` asks the carrier, which takes a while: the slowest tool;
- ``lookup_order`` raises ``OrderNotFoundError`` for an unknown order: a failed tool call;
- `SupportModel` mistakes "how long does shipping take" for a question about the
  customer's latest order and calls ``lookup_order`` instead of ``search_docs``: the
  wrong tool, in a trace that ends without any error.

``03_why_did_it_change.ipynb`` fixes the last one with a prompt edit: `SupportModel`
follows `FAQ_RULE` when its system message holds it (``build_agent(prompt=...)``).

No network and no API key: `SupportModel` is a deterministic tool-calling chat model.

Example:
    >>> agent = build_agent()
    >>> agent.invoke({"messages": [("user", QUESTIONS[0])]}, config={"callbacks": [...]})
"""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar, Final

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.tools import BaseTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from tracetape.demo.agent import tool_loop
from tracetape.demo.knowledge import FAQ, ORDERS, build_retriever
from tracetape.demo.model import answer
from tracetape.demo.tools import make_tools

GRAPH_NAME: Final = "support-agent-v2"
LATEST_ORDER: Final = "A-1042"
CARRIER_SECONDS: Final = 0.3
"""How long the carrier takes to answer ``track_parcel`` (long next to the other tools)."""

QUESTIONS: Final = (
    "Can I pay with a gift card?",
    "Where is my order A-1042?",
    "Can you track my parcel?",
    "Can you check order Z-9999 for me?",
    "How long does shipping to Canada take?",
)
"""One question per trace: fine, fine, slow tool, failed tool, wrong tool."""

SYSTEM: Final = (
    "You are the support assistant of Kettle & Mug Co. The customer's latest "
    "order is {latest_order}. Answer from the FAQ and the order records only."
)
"""The system message template of `PROMPT`."""

PROMPT: Final = ChatPromptTemplate.from_messages(
    [("system", SYSTEM), MessagesPlaceholder("messages")]
)

FAQ_RULE: Final = "Questions about shipping times are FAQ questions: search the docs."
"""A rule `SupportModel` follows when its system message holds it: a "how long" question
goes to ``search_docs`` (searched for "shipping times", the rule's own words)."""

_ORDER_ID = re.compile(r"\b[A-Z]-\d{3,5}\b")


@tool
def track_parcel(order_id: str) -> str:
    """Ask the carrier where the parcel of an order is right now."""
    time.sleep(CARRIER_SECONDS)  # the carrier's API is slow
    order = ORDERS.get(order_id, {})
    return f"parcel of {order_id}: with {order.get('carrier', 'no carrier')}, in transit"


def plan(question: str, system: str = "") -> tuple[str, dict[str, str]]:
    """The one tool call (name, args) `SupportModel` makes for a question, given its
    system message (which may hold `FAQ_RULE`)."""
    order = _ORDER_ID.search(question)
    if order:
        return "lookup_order", {"order_id": order.group()}
    if "track" in question.lower():
        return "track_parcel", {"order_id": LATEST_ORDER}
    if question.lower().startswith("how long"):
        if FAQ_RULE in system:
            # The fix. The query is the rule's topic, not the question: the demo's fake
            # embeddings rank arbitrarily, and the question itself misses faq-shipping.
            return "search_docs", {"query": "shipping times"}
        # The deliberate fault: "how long" is read as "when does my order arrive".
        return "lookup_order", {"order_id": LATEST_ORDER}
    return "search_docs", {"query": question}


def _words(messages: list[BaseMessage]) -> int:
    return sum(len(m.text.split()) + 4 * len(getattr(m, "tool_calls", [])) for m in messages)


class SupportModel(BaseChatModel):
    """A fake chat model: one tool call per question (see `plan`), then an answer."""

    model_name: str = "support-model-2"
    calls: ClassVar[int] = 0
    """How many times any `SupportModel` generated an answer (a replay calls none)."""

    @property
    def _llm_type(self) -> str:
        return "support-fake"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: list[BaseTool], **kwargs: Any) -> Any:
        """Bind tool definitions (OpenAI format) the way real chat models do."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        SupportModel.calls += 1
        asked = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        question = messages[asked].text
        system = " ".join(m.text for m in messages if isinstance(m, SystemMessage))
        results = [m for m in messages[asked + 1 :] if isinstance(m, ToolMessage)]
        if results:
            message = AIMessage(content=answer(question, results))
            finish = "stop"
        else:
            name, args = plan(question, system)
            call = ToolCall(name=name, args=args, id=f"call_{name}", type="tool_call")
            message = AIMessage(content="", tool_calls=[call])
            finish = "tool_calls"
        used, made = _words(messages), max(_words([message]), 1)
        message.usage_metadata = UsageMetadata(
            input_tokens=used, output_tokens=made, total_tokens=used + made
        )
        message.response_metadata = {"model_name": self.model_name, "finish_reason": finish}
        return ChatResult(generations=[ChatGeneration(message=message)])


def faq_documents() -> list[Document]:
    """The FAQ entries as the documents the agent's retriever is built from (the same ids,
    texts and metadata), e.g. to log them as a dataset artifact."""
    return [
        Document(id=ident, page_content=text, metadata={"topic": topic})
        for ident, topic, text in FAQ
    ]


def build_agent(prompt: ChatPromptTemplate = PROMPT) -> Any:
    """The compiled graph; invoke it with ``{"messages": [("user", question)]}``.

    ``prompt``: the agent's prompt template (a system message with ``{latest_order}``,
    then the conversation); `PROMPT` by default.
    """
    tools = [*make_tools(build_retriever()), track_parcel]
    chain = prompt.partial(latest_order=LATEST_ORDER) | SupportModel().bind_tools(tools)
    return tool_loop(chain, tools, GRAPH_NAME)
