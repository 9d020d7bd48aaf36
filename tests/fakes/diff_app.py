"""A small RAG app recording one pipeline run into a tape: what the diff tests compare.

A real LangChain chain (retriever over an in-memory vector store, chat prompt, chat
model, output parser) answers two questions inside ``tape.run("rag-eval")``. What it is
set up with comes from the command line, so two processes can run it differently:

    python tests/fakes/diff_app.py TAPE --prompt "Answer from:" --k 2 --model small

It prints the run id and closes the tape (everything durable) before it exits. The
environment snapshot is the process's own: a distribution put on ``PYTHONPATH`` shows
in it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

import tracetape
from tests.fakes import rag
from tests.fakes.models import ToolCallingFakeModel, script

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
