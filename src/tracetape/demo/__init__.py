"""The offline demo: a LangGraph support agent recorded into a tape and shown.

Real LangChain / LangGraph objects throughout (prompt template, in-memory vector store
and retriever, tools, a hand-written ``StateGraph`` with a ``ToolNode``); the only
stand-in is `DemoChatModel`, a deterministic tool-calling chat model. Needs the
``langchain`` extra. Run it with ``tracetape demo`` or:

Example:
    >>> from tracetape.demo import run_demo
    >>> run_demo(Path("demo.duckdb"), rich.console.Console())
"""

from __future__ import annotations

from tracetape.demo.run import QUESTIONS, DemoRun, record, run_demo, show

__all__ = ["QUESTIONS", "DemoRun", "record", "run_demo", "show"]
