"""A small RAG app recording one pipeline run into a tape: what the diff tests compare.

A real LangChain chain (retriever over an in-memory vector store, chat prompt, chat
model, output parser) answers two questions inside ``tape.run("rag-eval")``. What it is
set up with comes from the command line, so two processes can run it differently:

    python tests/fakes/diff_app.py TAPE --prompt "Answer from:" --k 2 --model small

It prints the run id and closes the tape (everything durable) before it exits. The
environment snapshot is the process's own: a distribution put on ``PYTHONPATH`` shows
in it.

`record_support` records the other case diff tests compare, in the calling process: a
LangGraph support agent (the demo's tool loop and tools) answering five questions, whose
stand-in model `RuleModel` follows `RULE` when its system message holds it, so a prompt
edit changes what the agent does for one question of the five.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import ToolCall
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool

import tracetape
from tests.fakes import rag
from tests.fakes.models import ToolCallingFakeModel, script
from tracetape.demo.agent import tool_loop
from tracetape.demo.knowledge import build_retriever
from tracetape.demo.model import answer
from tracetape.demo.tools import make_tools

QUESTIONS = ("How long do cats sleep?", "What do bees do?")
PROMPT = "Answer from this context only:"


class LargeFakeModel(ToolCallingFakeModel):
    """Another model: another class, name and answers."""

    model_name: str = "fake-large-2"


MODELS: dict[str, tuple[type[ToolCallingFakeModel], str, tuple[str, ...]]] = {
    "small": (ToolCallingFakeModel, "fake-small-1", ("Sixteen hours.", "They dance.")),
    "large": (
        LargeFakeModel,
        "fake-large-2",
        ("Cats sleep about sixteen hours a day.", "Bees dance to show where flowers are."),
    ),
}


def _context(docs: list[Document]) -> str:
    return "\n".join(d.page_content for d in docs)


def chain(prompt: str, k: int, model: str) -> Any:
    """The RAG chain, set up with a system prompt, a retriever ``k`` and a model."""
    cls, name, answers = MODELS[model]
    retriever = rag.store().as_retriever(search_kwargs={"k": k})
    template = ChatPromptTemplate.from_messages(
        [("system", prompt + "\n{context}"), ("human", "{question}")]
    )
    chat = cls(model_name=name, messages=script(*(AIMessage(content=a) for a in answers)))
    return (
        {"context": retriever | _context, "question": RunnablePassthrough()}
        | template
        | chat
        | StrOutputParser()
    )


def record(tape: Any, prompt: str = PROMPT, k: int = 2, model: str = "small") -> str:
    """Answer every question in one run of ``tape``; returns the run id."""
    app = chain(prompt, k, model)
    with tape.run("rag-eval", params={"k": k, "model": model}) as run:
        for question in QUESTIONS:
            app.invoke(question, config={"callbacks": [tape.langchain()]})
    return str(run.run_id)


SUPPORT_QUESTIONS = (
    "Can I pay with a gift card?",
    "Where is my order A-1042?",
    "How long does shipping take?",
    "Are mugs dishwasher safe?",
    "Is there a warranty?",
)
SYSTEM = "You are the support assistant of a shop. Answer from the FAQ and the orders."
RULE = "Questions about shipping times are FAQ questions: search the docs."


class RuleModel(BaseChatModel):
    """A stand-in model: one tool call per question, then an answer from its results. A
    "how long" question looks up the latest order (wrong), unless the system message
    holds `RULE`: then it searches the FAQ."""

    model_name: str = "rule-model-1"

    @property
    def _llm_type(self) -> str:
        return "rule-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
    ) -> ChatResult:
        asked = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        question, results = messages[asked].text, messages[asked + 1 :]
        tool_results = [m for m in results if isinstance(m, ToolMessage)]
        if tool_results:
            message = AIMessage(content=answer(question, tool_results))
        else:
            name, args = "search_docs", {"query": question}
            if "A-1042" in question or (
                question.startswith("How long") and RULE not in messages[0].text
            ):
                name, args = "lookup_order", {"order_id": "A-1042"}
            message = AIMessage(
                content="", tool_calls=[ToolCall(name=name, args=args, id=f"call_{name}")]
            )
        return ChatResult(generations=[ChatGeneration(message=message)])


def record_support(tape: Any, system: str, name: str) -> str:
    """Answer every support question in one run ``name`` of ``tape``, the agent's prompt
    a system message ``system`` and the conversation; returns the run id."""
    tools = make_tools(build_retriever())
    prompt = ChatPromptTemplate.from_messages([("system", system), MessagesPlaceholder("messages")])
    agent = tool_loop(prompt | RuleModel().bind_tools(tools), tools, "support")
    with tape.run(name) as run:
        for question in SUPPORT_QUESTIONS:
            agent.invoke(
                {"messages": [("user", question)]}, config={"callbacks": [tape.langchain()]}
            )
    tape.flush()
    return str(run.run_id)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tape", type=Path)
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--model", choices=sorted(MODELS), default="small")
    args = parser.parse_args(argv)
    tape = tracetape.open(args.tape)
    try:
        run_id = record(tape, args.prompt, args.k, args.model)
    finally:
        tape.close()
    print(run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
