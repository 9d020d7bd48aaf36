"""`TracetapeEventHandler`: LlamaIndex dispatcher events -> attributes of open spans.

Each event names the span it happened in (``span_id``); the handler finds that span's
recorded run in the shared `RunTable` and adds what the event carries: a model call's
messages, parameters, tools, response, tool calls and usage; an embedding call's input
count and dimensions; a predict call's prompt template, as a ``prompt`` span of its own.
"""

from __future__ import annotations

import time
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent, EmbeddingStartEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionInProgressEvent,
    LLMCompletionStartEvent,
    LLMPredictStartEvent,
    LLMStructuredPredictStartEvent,
)
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode
from pydantic import PrivateAttr

from tracetape._safety import attempt
from tracetape.capture.llamaindex import components, extract
from tracetape.capture.llamaindex.runs import Run, RunTable
from tracetape.capture.llamaindex.span_handler import entry
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import dumps, to_jsonable

_REPLAY_FORMAT = "llamaindex.llm"


class TracetapeEventHandler(BaseEventHandler):
    """Adds what LlamaIndex events carry to the spans of a `TracetapeSpanHandler`."""

    _table: RunTable = PrivateAttr()

    def __init__(self, table: RunTable) -> None:
        super().__init__()
        self._table = table

    @classmethod
    def class_name(cls) -> str:
        return "TracetapeEventHandler"

    @entry("llamaindex.event")
    def handle(self, event: Any, **kwargs: Any) -> None:
        run = self._table.find(getattr(event, "span_id", None))
        if run is None:
            return
        where = f"llamaindex.{type(event).__name__}"
        if isinstance(event, LLMChatStartEvent | LLMCompletionStartEvent):
            if run.kind == kinds.LLM and not run.started:
                run.started = True
                attrs = attempt(where, lambda: self._llm_start(run, event), {})
                run.span.set_attributes(attrs)
        elif isinstance(event, LLMChatEndEvent | LLMCompletionEndEvent):
            if run.kind == kinds.LLM and event.response is not None:
                attrs = attempt(where, lambda: self._llm_end(run, event), {})
                run.span.set_attributes(attrs)
                if run.awaiting_end:
                    self._table.end(str(event.span_id), ok=True, restore=False)
        elif isinstance(event, LLMChatInProgressEvent | LLMCompletionInProgressEvent):
            if run.kind == kinds.LLM and run.count == 0:
                elapsed = (time.time_ns() - run.start_ns) / 1e6
                run.span.set_attribute(semconv.TIME_TO_FIRST_TOKEN_MS, elapsed)
            run.count += 1
        elif isinstance(event, LLMPredictStartEvent | LLMStructuredPredictStartEvent):
            attempt(
                where, lambda: self._open_prompt(run, event.template, event.template_args), None
            )
        elif isinstance(event, EmbeddingStartEvent) and run.kind == kinds.EMBEDDING:
            model = event.model_dict.get("model_name")
            if isinstance(model, str) and model:
                run.span.set_attribute(semconv.REQUEST_MODEL, model)
        elif isinstance(event, EmbeddingEndEvent) and run.kind == kinds.EMBEDDING:
            run.count += len(event.chunks)
            run.span.set_attribute(semconv.EMBEDDING_INPUT_COUNT, run.count)
            if event.embeddings:
                dims = len(event.embeddings[0])
                run.span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dims)

    # -- model calls ------------------------------------------------------------------
    def _llm_start(self, run: Run, event: Any) -> dict[str, Any]:
        recorder = self._table.recorder
        capture = recorder.settings.capture_content
        extra: dict[str, Any] = dict(event.additional_kwargs or {})
        tools = extra.pop("tools", None)
        model_dict: dict[str, Any] = dict(event.model_dict or {})
        attrs = extract.param_attributes(model_dict, extra)
        recorder.display(semconv.INVOCATION_PARAMS, to_jsonable({**model_dict, **extra}), attrs)
        if isinstance(tools, list | tuple) and tools:
            recorder.display(semconv.TOOL_DEFINITIONS, to_jsonable(tools), attrs)
        if isinstance(event, LLMChatStartEvent):
            shown = [extract.semconv_message(m, capture) for m in event.messages]
            request: Any = {"messages": event.messages, "kwargs": extra, "tools": tools}
        else:
            shown = extract.prompt_message(event.prompt, capture)
            request = {"prompt": event.prompt, "kwargs": extra}
        recorder.display(semconv.INPUT_MESSAGES, shown, attrs)
        if capture:
            digest = recorder.content.put(dumps(to_jsonable(request)), run.blobs)
            attrs[semconv.REPLAY_INPUT] = dumps([digest] if digest else [])
            attrs[semconv.REPLAY_FORMAT] = _REPLAY_FORMAT
            if digest is None:
                attrs[semconv.REPLAYABLE] = False
        self._close_prompt(run, shown)
        return attrs

    def _llm_end(self, run: Run, event: Any) -> dict[str, Any]:
        recorder = self._table.recorder
        capture = recorder.settings.capture_content
        response = event.response
        attrs = extract.usage_attributes(response)
        attrs.update(extract.response_attributes(response))
        if isinstance(event, LLMChatEndEvent):
            calls = attempt("llamaindex.tool_calls", lambda: self._tool_calls(run, response), [])
            message = extract.semconv_message(response.message, capture, calls)
        else:
            message = extract.prompt_message(response.text, capture)[0]
            message["role"] = "assistant"
        reasons = attrs.get(semconv.RESPONSE_FINISH_REASONS)
        if reasons:
            message["finish_reason"] = reasons[0]
        recorder.display(semconv.OUTPUT_MESSAGES, [message], attrs)
        if capture:
            digest = recorder.content.put(dumps(to_jsonable(response)), run.blobs)
            attrs[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
            if digest is None:
                attrs[semconv.REPLAYABLE] = False
        return attrs

    @staticmethod
    def _tool_calls(run: Run, response: Any) -> list[Any]:
        """Tool calls the model requested, parsed by the model's own public method."""
        parse = getattr(run.instance, "get_tool_calls_from_response", None)
        if not callable(parse) or not getattr(
            run.instance.metadata, "is_function_calling_model", False
        ):
            return []
        try:
            calls: Any = parse(response, error_on_no_tool_call=False)
            return list(calls)
        except (NotImplementedError, ValueError, KeyError, TypeError):
            return []  # the message's own additional_kwargs still show them

    # -- prompt templates -------------------------------------------------------------
    def _open_prompt(self, run: Run, template: Any, args: dict[str, Any] | None) -> None:
        recorder = self._table.recorder
        attrs = components.prompt_attributes(template, args, recorder)
        attrs[semconv.KIND] = kinds.PROMPT
        attrs[semconv.OPERATION_NAME] = kinds.OPERATIONS[kinds.PROMPT]
        context = trace.set_span_in_context(run.span, Context())
        name = type(template).__name__
        span = recorder.tracer.start_span(name, context=context, attributes=attrs)
        if run.prompt is not None:
            self._table.finish(run.prompt, ok=True, restore=False)
        run.prompt = Run(span=span, kind=kinds.PROMPT, name=name, root=run.root, parent=None)

    def _close_prompt(self, llm: Run, rendered: list[dict[str, Any]]) -> None:
        """End the prompt span of the predict call this model call renders for."""
        owner = self._table.runs.get(llm.parent) if llm.parent is not None else None
        prompt = owner.prompt if owner is not None else None
        if owner is None or prompt is None:
            return
        owner.prompt = None
        recorder = self._table.recorder
        if recorder.settings.capture_content:
            attrs: dict[str, Any] = {}
            recorder.display(semconv.OUTPUT, rendered, attrs)
            prompt.span.set_attributes(attrs)
        prompt.span.set_status(Status(StatusCode.OK))
        # Rendering ended when the model call began, not when its first event arrived.
        prompt.span.end(end_time=min(llm.start_ns, time.time_ns()))
