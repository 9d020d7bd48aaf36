"""The demo agent: a hand-written LangGraph ``StateGraph`` (agent -> tools -> agent).

The agent node runs a ``ChatPromptTemplate`` (system message + the conversation) into
`DemoChatModel` with the tools bound; a conditional edge sends tool calls to a
``ToolNode`` and everything else to the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from tracetape.demo.knowledge import build_retriever
from tracetape.demo.model import DemoChatModel
from tracetape.demo.tools import make_tools

GRAPH_NAME: Final = "support-agent"
SHOP: Final = "Kettle & Mug Co."

PROMPT: Final = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You are the support assistant of {shop}. Answer from the FAQ and the order "
            "records only; use the tools, and say so when something cannot be found.",
        ),
        MessagesPlaceholder("messages"),
    ]
)


def tool_error(error: Exception) -> str:
    """The text the model reads when a tool raised ``error``."""
    return f"{type(error).__name__}: {error}"


def tool_loop(chain: Any, tools: Sequence[BaseTool], name: str = GRAPH_NAME) -> Any:
    """The agent -> tools -> agent loop around ``chain`` (a prompt | a model bound to
    ``tools``), compiled; invoke it with ``{"messages": [("user", question)]}``."""

    def agent(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [chain.invoke({"messages": state["messages"]}, config)]}

    def route(state: MessagesState) -> Literal["tools", "__end__"]:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else "__end__"

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    # A failing tool becomes an error ToolMessage the model reads; its span still
    # records the exception.
    graph.add_node("tools", ToolNode(list(tools), handle_tool_errors=tool_error))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(name=name)


def build_agent() -> Any:
    """The demo's compiled graph; invoke it with ``{"messages": [("user", question)]}``."""
    tools = make_tools(build_retriever())
    return tool_loop(PROMPT.partial(shop=SHOP) | DemoChatModel().bind_tools(tools), tools)
