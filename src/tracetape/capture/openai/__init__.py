"""The ``openai`` SDK's chat completions, called directly (not through LangChain), as llm spans.

A LangGraph node that calls ``OpenAI().chat.completions.create(...)`` (sync or async,
streamed or not) records an llm span under that node, with what the LangChain path
records for a model call. ``openai`` itself is imported only when instrumenting.

Example:
    >>> from tracetape.capture.openai import instrument_openai
    >>> instrument_openai(tape.recorder)
"""

from __future__ import annotations

from tracetape.capture.openai.patch import instrument_openai, is_instrumented, uninstrument_openai

__all__ = ["instrument_openai", "is_instrumented", "uninstrument_openai"]
