"""Span kinds: one column, one value each, with the semconv operation beside it."""

from __future__ import annotations

from typing import Final, Literal

SpanKindName = Literal[
    "llm",
    "embedding",
    "tool",
    "retriever",
    "prompt",
    "chain",
    "agent",
    "graph",
    "node",
    "workflow",
]

LLM: Final = "llm"
EMBEDDING: Final = "embedding"
TOOL: Final = "tool"
RETRIEVER: Final = "retriever"
PROMPT: Final = "prompt"
CHAIN: Final = "chain"
AGENT: Final = "agent"
GRAPH: Final = "graph"
NODE: Final = "node"
WORKFLOW: Final = "workflow"

KINDS: Final[tuple[SpanKindName, ...]] = (
    "llm",
    "embedding",
    "tool",
    "retriever",
    "prompt",
    "chain",
    "agent",
    "graph",
    "node",
    "workflow",
)

OPERATIONS: Final[dict[str, str]] = {
    LLM: "chat",
    EMBEDDING: "embeddings",
    TOOL: "execute_tool",
    RETRIEVER: "retrieval",
    PROMPT: "format_prompt",
    CHAIN: "chain",
    AGENT: "invoke_agent",
    GRAPH: "invoke_agent",
    NODE: "node",
    WORKFLOW: "workflow",
}
"""Default ``gen_ai.operation.name`` per kind; llm spans refine it (chat / text_completion)."""
