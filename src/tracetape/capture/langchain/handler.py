"""`TracetapeCallbackHandler`: LangChain callback runs -> OpenTelemetry spans.

Lifecycle only: a run-id -> span map, explicit parent links, status and ending. What a
span records is extracted by `llm`, `tools`, `prompts`, `retrievers` and `langgraph`,
each extractor behind the error boundary so that a failing one costs an attribute, not
a span. The handler implements `BaseCallbackHandler` directly (not `BaseTracer`, which
builds and copies a Run object per callback) and runs inline, in the caller's thread.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from tracetape._safety import attempt, guard
from tracetape.capture.langchain import langgraph, llm, retrievers, tools
from tracetape.capture.langchain import prompts as prompt_capture
from tracetape.capture.langchain._compat import control_flow_kind, interrupt_values
from tracetape.capture.langchain.io import io_json, replay_payload
from tracetape.capture.langchain.messages import MessageCodec, encode_history
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import dumps, qualname, to_jsonable
from tracetape.spans.recorder import Recorder, ambient_parent, current_capture_span
from tracetape.spans.redact import redact_text

_MAX_OPEN_RUNS = 50_000


@dataclass(slots=True)
class _Run:
    span: Span
    kind: str
    name: str
    root: UUID
    parent: UUID | None
    blobs: dict[str, str] = field(default_factory=dict)
    first_token_ns: int | None = None
    start_ns: int = 0


class TracetapeCallbackHandler(BaseCallbackHandler):
    """Records every LangChain / LangGraph callback run as an OpenTelemetry span.

    Get one from ``tape.langchain()`` rather than constructing it.

    Example:
        >>> graph.invoke(inputs, config={"callbacks": [tape.langchain()]})
    """

    run_inline = True
    raise_error = False

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.codec = MessageCodec(recorder.settings.capture_content)
        self._runs: dict[UUID, _Run] = {}
        self._hidden: dict[UUID, UUID | None] = {}

    # LangChain copies (and sometimes deep-copies) handlers; all copies are this one.
    def __copy__(self) -> TracetapeCallbackHandler:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TracetapeCallbackHandler:
        return self

    @property
    def open_runs(self) -> int:
        """Runs started and not yet ended (should return to 0 after every trace)."""
        return len(self._runs)

    # -- lifecycle ---------------------------------------------------------------------
    def _resolve_parent(self, parent_run_id: UUID | None) -> UUID | None:
        seen = 0
        while parent_run_id is not None and parent_run_id in self._hidden and seen < 64:
            parent_run_id = self._hidden[parent_run_id]
            seen += 1
        return parent_run_id

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        metadata: Mapping[str, Any] | None,
        tags: Sequence[str] | None,
        span_kind: SpanKind = SpanKind.INTERNAL,
    ) -> _Run:
        parent_id = self._resolve_parent(parent_run_id)
        parent = self._runs.get(parent_id) if parent_id is not None else None
        if parent is not None:
            context: Context | None = trace.set_span_in_context(parent.span, Context())
        else:
            context = ambient_parent()
        attrs[semconv.KIND] = kind
        attrs.setdefault(semconv.OPERATION_NAME, kinds.OPERATIONS[kind])
        attrs[semconv.LANGCHAIN_RUN_ID] = str(run_id)
        attrs[semconv.LANGCHAIN_RUN_NAME] = name
        if parent is None:
            self._root_attributes(attrs, metadata, tags)
        span = self.recorder.tracer.start_span(
            name, context=context, kind=span_kind, attributes=attrs
        )
        run = _Run(
            span=span,
            kind=kind,
            name=name,
            root=parent.root if parent is not None else run_id,
            parent=parent_id if parent is not None else None,
            start_ns=time.perf_counter_ns(),
        )
        if len(self._runs) >= _MAX_OPEN_RUNS:
            self._end_oldest()
        self._runs[run_id] = run
        current_capture_span.set(span)
        return run

    def _root_attributes(
        self, attrs: dict[str, Any], metadata: Mapping[str, Any] | None, tags: Sequence[str] | None
    ) -> None:
        user_tags = [t for t in tags or () if not t.startswith(("seq:step:", "graph:step:"))]
        if user_tags:
            attrs[semconv.TAGS] = tuple(user_tags)
        user_meta = {
            k: v
            for k, v in (metadata or {}).items()
            if not k.startswith(("langgraph_", "ls_", "checkpoint_")) and k != "thread_id"
        }
        if user_meta:
            self.recorder.display(semconv.METADATA, to_jsonable(user_meta), attrs)
        for key in (semconv.RUN_ID, semconv.REPLAY_OF):
            value = self.recorder.extra.get(key)
            if value:
                attrs[key] = value

    def _end(
        self, run_id: UUID, attrs: Callable[[_Run], dict[str, Any]] | None = None, ok: bool = True
    ) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        if attrs is not None:
            extra = attempt(f"end.{run.kind}", lambda: attrs(run), {})
            if extra:
                run.span.set_attributes(extra)
        self._finish(run, ok)
        if run.parent is None:
            self._end_orphans(run_id)

    def _finish(self, run: _Run, ok: bool = False) -> None:
        if ok:
            run.span.set_status(Status(StatusCode.OK))
        if run.blobs:
            run.span.set_attribute(semconv.BLOBS, dumps(run.blobs))
        run.span.end()
        if run.blobs:
            self.recorder.content.mark_sent(list(run.blobs))
        parent = self._runs.get(run.parent) if run.parent is not None else None
        current_capture_span.set(parent.span if parent is not None else None)

    def _end_orphans(self, root: UUID) -> None:
        orphans = [rid for rid, r in self._runs.items() if r.root == root]
        for rid in orphans:
            run = self._runs.pop(rid)
            run.span.set_attribute("tracetape.incomplete", True)
            self._finish(run)

    def _end_oldest(self) -> None:
        oldest = next(iter(self._runs))
        run = self._runs.pop(oldest)
        run.span.set_attribute("tracetape.incomplete", True)
        self._finish(run)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        flow = control_flow_kind(error)
        if flow is not None:
            run.span.set_attribute(semconv.CONTROL_FLOW, flow)
            if flow == "interrupt":
                values = attempt("interrupt", lambda: interrupt_values(error), [])
                self.recorder.display(semconv.INTERRUPT_VALUE, to_jsonable(values), attrs := {})
                run.span.set_attributes(attrs)
        else:
            message = redact_text(str(error))
            run.span.set_status(Status(StatusCode.ERROR, message[:2000]))
            run.span.set_attribute(semconv.ERROR_TYPE, qualname(type(error)))
            stack = "".join(traceback.format_exception(error))
            run.span.record_exception(
                error,
                attributes={
                    "exception.message": message,
                    "exception.stacktrace": redact_text(stack),
                },
            )
        self._end(run_id, ok=False)

    # -- chains, graphs, nodes, prompts -------------------------------------------------
    @guard("langchain.on_chain_start")
    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        meta = metadata or {}
        name = str(kwargs.get("name") or _serialized_name(serialized) or "chain")
        if langgraph.is_hidden(tags):
            self._hidden[run_id] = parent_run_id
            return
        attrs: dict[str, Any] = {}
        if kwargs.get("run_type") == "prompt":
            kind = kinds.PROMPT
            attrs.update(
                attempt(
                    "prompt.start",
                    lambda: prompt_capture.start_attributes(serialized, inputs, self.recorder),
                    {},
                )
            )
        elif langgraph.is_node(name, tags, meta):
            kind = kinds.NODE
            attrs.update(attempt("langgraph.node", lambda: langgraph.attributes(meta, True), {}))
            parent = self._runs.get(self._resolve_parent(parent_run_id) or run_id)
            if parent is not None and parent.kind != kinds.NODE:
                self._mark_graph(parent)
                attrs[semconv.LANGGRAPH_GRAPH] = parent.name
        else:
            kind = kinds.CHAIN
            attrs.update(attempt("langgraph.meta", lambda: langgraph.attributes(meta, False), {}))
        if kind != kinds.PROMPT and self.recorder.settings.capture_content:
            self.recorder.display_json(semconv.INPUT, io_json(inputs, self.codec), attrs)
        run = self._start(run_id, parent_run_id, name, kind, attrs, meta, tags)
        if run.parent is None and self.recorder.settings.capture_content:
            payload = attempt("chain.replay", lambda: replay_payload(inputs, self.codec), None)
            digest = self.recorder.content.put(payload, run.blobs) if payload else None
            if digest:
                run.span.set_attribute(semconv.REPLAY_INPUT, dumps([digest]))

    def _mark_graph(self, run: _Run) -> None:
        if run.kind == kinds.GRAPH:
            return
        run.kind = kinds.GRAPH
        run.span.set_attributes(
            {
                semconv.KIND: kinds.GRAPH,
                semconv.OPERATION_NAME: kinds.OPERATIONS[kinds.GRAPH],
                semconv.LANGGRAPH_GRAPH: run.name,
                semconv.AGENT_NAME: run.name,
            }
        )

    @guard("langchain.on_chain_end")
    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if self._hidden.pop(run_id, 0) != 0:
            return

        def attrs(run: _Run) -> dict[str, Any]:
            if run.kind == kinds.PROMPT:
                return prompt_capture.end_attributes(outputs, self.recorder)
            out: dict[str, Any] = {}
            if self.recorder.settings.capture_content:
                self.recorder.display_json(semconv.OUTPUT, io_json(outputs, self.codec), out)
                if run.parent is None:
                    payload = replay_payload(outputs, self.codec)
                    digest = self.recorder.content.put(payload, run.blobs) if payload else None
                    if digest:
                        out[semconv.REPLAY_OUTPUT] = dumps([digest])
            return out

        self._end(run_id, attrs)

    @guard("langchain.on_chain_error")
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self._hidden.pop(run_id, 0) != 0:
            return
        self._fail(run_id, error)

    # -- models ------------------------------------------------------------------------
    @guard("langchain.on_chat_model_start")
    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        meta = metadata or {}
        params = kwargs.get("invocation_params") or {}
        attrs = attempt(
            "llm.request",
            lambda: llm.request_attributes(
                serialized, params, meta, self.recorder, kwargs.get("options")
            ),
            {},
        )
        attrs.update(attempt("langgraph.meta", lambda: langgraph.attributes(meta, False), {}))
        blobs: dict[str, str] = {}
        history = llm.first_batch(messages)
        display, hashes, whole = encode_history(self.codec, history, self.recorder, blobs)
        if self.recorder.settings.capture_content:
            attrs[semconv.INPUT_MESSAGES] = display
        attrs[semconv.REPLAY_INPUT] = dumps(hashes)
        if not whole:
            attrs[semconv.REPLAYABLE] = False
        name = str(kwargs.get("name") or _serialized_name(serialized) or "chat")
        run = self._start(
            run_id, parent_run_id, name, kinds.LLM, attrs, meta, tags, SpanKind.CLIENT
        )
        run.blobs.update(blobs)

    @guard("langchain.on_llm_start")
    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt_list = prompts
        meta = metadata or {}
        params = kwargs.get("invocation_params") or {}
        attrs = attempt(
            "llm.request",
            lambda: llm.request_attributes(serialized, params, meta, self.recorder),
            {},
        )
        attrs[semconv.OPERATION_NAME] = "text_completion"
        if self.recorder.settings.capture_content:
            self.recorder.display(
                semconv.INPUT_MESSAGES, to_jsonable(llm.prompt_messages(prompt_list)), attrs
            )
        run_blobs: dict[str, str] = {}
        if self.recorder.settings.capture_content:
            digest = self.recorder.content.put(dumps(to_jsonable(prompt_list)), run_blobs)
            attrs[semconv.REPLAY_INPUT] = dumps([digest] if digest else [])
        else:
            attrs[semconv.REPLAYABLE] = False
        name = str(kwargs.get("name") or _serialized_name(serialized) or "llm")
        run = self._start(
            run_id, parent_run_id, name, kinds.LLM, attrs, meta, tags, SpanKind.CLIENT
        )
        run.blobs.update(run_blobs)

    @guard("langchain.on_llm_new_token")
    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._runs.get(run_id)
        if run is not None and run.first_token_ns is None:
            run.first_token_ns = time.perf_counter_ns()
            run.span.set_attributes(
                {
                    semconv.STREAMED: True,
                    semconv.TIME_TO_FIRST_TOKEN_MS: (run.first_token_ns - run.start_ns) / 1e6,
                }
            )

    @guard("langchain.on_llm_end")
    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        def attrs(run: _Run) -> dict[str, Any]:
            message, finish = llm.response_message(response)
            out = llm.response_attributes(response, message)
            if message is None:
                if self.recorder.settings.capture_content:
                    out[semconv.OUTPUT_MESSAGES] = llm.text_output(response)
                if not self.recorder.settings.capture_content:
                    out[semconv.REPLAYABLE] = False
                    return out
                texts = [g.text for gens in response.generations for g in gens]
                digest = self.recorder.content.put(dumps(to_jsonable(texts)), run.blobs)
                out[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
                return out
            encoded = self.codec.encode(message, finish)
            if self.recorder.settings.capture_content:
                self.recorder.display_json(
                    semconv.OUTPUT_MESSAGES, "[" + encoded.display + "]", out
                )
            else:
                out[semconv.REPLAYABLE] = False
                return out
            digest = self.recorder.content.put(encoded.payload, run.blobs)
            out[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
            if digest is None:
                out[semconv.REPLAYABLE] = False
            return out

        self._end(run_id, attrs)

    @guard("langchain.on_llm_error")
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.span.set_attributes(attempt("llm.error", lambda: llm.error_attributes(error), {}))
        self._fail(run_id, error)

    # -- tools -------------------------------------------------------------------------
    @guard("langchain.on_tool_start")
    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        meta = metadata or {}
        name = str(kwargs.get("name") or _serialized_name(serialized) or "tool")
        blobs: dict[str, str] = {}
        attrs = attempt(
            "tool.start",
            lambda: tools.start_attributes(
                serialized,
                input_str,
                inputs,
                kwargs.get("tool_call_id"),
                name,
                self.recorder,
                blobs,
            ),
            {semconv.TOOL_NAME: name},
        )
        attrs.update(attempt("tool.schema", tools.current_tool_schema, {}))
        attrs.update(attempt("langgraph.meta", lambda: langgraph.attributes(meta, False), {}))
        run = self._start(run_id, parent_run_id, name, kinds.TOOL, attrs, meta, tags)
        run.blobs.update(blobs)

    @guard("langchain.on_tool_end")
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, lambda run: tools.end_attributes(output, self.recorder, run.blobs))

    @guard("langchain.on_tool_error")
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._fail(run_id, error)

    # -- retrievers --------------------------------------------------------------------
    @guard("langchain.on_retriever_start")
    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        meta = metadata or {}
        name = str(kwargs.get("name") or _serialized_name(serialized) or "retriever")
        attrs = attempt(
            "retriever.start", lambda: retrievers.start_attributes(query, meta, self.recorder), {}
        )
        attrs.update(attempt("langgraph.meta", lambda: langgraph.attributes(meta, False), {}))
        run = self._start(run_id, parent_run_id, name, kinds.RETRIEVER, attrs, meta, tags)
        retrievers.on_started(run.span, self.recorder)

    @guard("langchain.on_retriever_end")
    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        retrievers.on_ended()
        self._end(
            run_id, lambda run: retrievers.end_attributes(documents, self.recorder, run.blobs)
        )

    @guard("langchain.on_retriever_error")
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        retrievers.on_ended()
        self._fail(run_id, error)


def _serialized_name(serialized: Mapping[str, Any] | None) -> str | None:
    if not serialized:
        return None
    name = serialized.get("name")
    if isinstance(name, str):
        return name
    ident = serialized.get("id")
    if isinstance(ident, list) and ident:
        return str(ident[-1])
    return None
