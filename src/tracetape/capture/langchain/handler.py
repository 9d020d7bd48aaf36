"""`TracetapeCallbackHandler`: LangChain callback runs -> OpenTelemetry spans.

Lifecycle only: a run-id -> span map, explicit parent links, status and ending. What a
span records is extracted by `llm`, `tools`, `prompts`, `retrievers` and `langgraph`,
each extractor behind the error boundary so that a failing one costs an attribute, not
a span. The handler implements `BaseCallbackHandler` directly (not `BaseTracer`, which
builds and copies a Run object per callback) and runs inline, in the caller's thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from opentelemetry.trace import SpanKind

from tracetape._safety import attempt, guard
from tracetape.capture.langchain import langgraph, llm, retrievers, tools
from tracetape.capture.langchain import prompts as prompt_capture
from tracetape.capture.langchain.io import io_json, replay_payload
from tracetape.capture.langchain.messages import MessageCodec, encode_history
from tracetape.capture.langchain.runs import Run, RunTable
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import dumps, to_jsonable
from tracetape.spans.outcome import provider_error_attributes
from tracetape.spans.recorder import Recorder


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
        self.runs = RunTable(recorder)

    # LangChain copies (and sometimes deep-copies) handlers; all copies are this one.
    def __copy__(self) -> TracetapeCallbackHandler:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TracetapeCallbackHandler:
        return self

    @property
    def open_runs(self) -> int:
        """Runs started and not yet ended (should return to 0 after every trace)."""
        return len(self.runs)

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
            self.runs.hide(run_id, parent_run_id)
            return
        attrs: dict[str, Any] = {}
        if kwargs.get("run_type") == "prompt":
            kind = kinds.PROMPT
            attrs.update(
                attempt(
                    "prompt.start",
                    lambda: prompt_capture.start_attributes(
                        serialized, inputs, self.recorder, self.codec
                    ),
                    {},
                )
            )
        elif langgraph.is_node(name, tags, meta):
            kind = kinds.NODE
            attrs.update(attempt("langgraph.node", lambda: langgraph.attributes(meta, True), {}))
            parent = self.runs.get(self.runs.resolve_parent(parent_run_id) or run_id)
            if parent is not None and parent.kind != kinds.NODE:
                self._mark_graph(parent)
                attrs[semconv.LANGGRAPH_GRAPH] = parent.name
        else:
            kind = kinds.CHAIN
            attrs.update(attempt("langgraph.meta", lambda: langgraph.attributes(meta, False), {}))
        if kind != kinds.PROMPT and self.recorder.settings.capture_content:
            self.recorder.display_json(semconv.INPUT, io_json(inputs, self.codec), attrs)
        run = self.runs.start(run_id, parent_run_id, name, kind, attrs, meta, tags)
        if run.parent is None and self.recorder.settings.capture_content:
            payload = attempt("chain.replay", lambda: replay_payload(inputs, self.codec), None)
            digest = self.recorder.content.put(payload, run.blobs) if payload else None
            if digest:
                run.span.set_attribute(semconv.REPLAY_INPUT, dumps([digest]))

    def _mark_graph(self, run: Run) -> None:
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
        if self.runs.unhide(run_id):
            return

        def attrs(run: Run) -> dict[str, Any]:
            if run.kind == kinds.PROMPT:
                return prompt_capture.end_attributes(outputs, self.recorder, self.codec)
            out: dict[str, Any] = {}
            if self.recorder.settings.capture_content:
                self.recorder.display_json(semconv.OUTPUT, io_json(outputs, self.codec), out)
                if run.parent is None:
                    payload = replay_payload(outputs, self.codec)
                    digest = self.recorder.content.put(payload, run.blobs) if payload else None
                    if digest:
                        out[semconv.REPLAY_OUTPUT] = dumps([digest])
            return out

        self.runs.end(run_id, attrs)

    @guard("langchain.on_chain_error")
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self.runs.unhide(run_id):
            return
        self.runs.fail(run_id, error)

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
        run = self.runs.start(
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
        run = self.runs.start(
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
        run = self.runs.get(run_id)
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
        def attrs(run: Run) -> dict[str, Any]:
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
            digest = self.recorder.content.put(encoded.payload, run.blobs, encoded.digest)
            out[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
            if digest is None:
                out[semconv.REPLAYABLE] = False
            return out

        self.runs.end(run_id, attrs)

    @guard("langchain.on_llm_error")
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        run = self.runs.get(run_id)
        if run is not None:
            run.span.set_attributes(
                attempt("llm.error", lambda: provider_error_attributes(error), {})
            )
        self.runs.fail(run_id, error)

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
        run = self.runs.start(run_id, parent_run_id, name, kinds.TOOL, attrs, meta, tags)
        run.blobs.update(blobs)

    @guard("langchain.on_tool_end")
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.runs.end(
            run_id,
            lambda run: tools.end_attributes(output, self.recorder, run.blobs, self.codec),
        )

    @guard("langchain.on_tool_error")
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.runs.fail(run_id, error)

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
        run = self.runs.start(run_id, parent_run_id, name, kinds.RETRIEVER, attrs, meta, tags)
        retrievers.on_started(run.span, self.recorder)

    @guard("langchain.on_retriever_end")
    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        retrievers.on_ended()
        self.runs.end(
            run_id, lambda run: retrievers.end_attributes(documents, self.recorder, run.blobs)
        )

    @guard("langchain.on_retriever_error")
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        retrievers.on_ended()
        self.runs.fail(run_id, error)


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
