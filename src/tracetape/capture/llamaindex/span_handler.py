"""`TracetapeSpanHandler`: LlamaIndex dispatcher spans -> tracetape OpenTelemetry spans.

Lifecycle only: which spans record (by type, see `extract.classify`), their parents,
status and end. Model, embedding and prompt details arrive as dispatcher events and are
recorded by `events.TracetapeEventHandler` onto the same table of open spans. The
dispatcher calls handlers inline, in the caller's thread or task, and silently swallows
whatever a handler raises, so every entry point runs through `entry`, which also keeps
what strict mode raised where tests can see it (`strict_failures`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, ParamSpec, TypeVar

from llama_index.core.instrumentation.span import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from pydantic import PrivateAttr
from workflows.events import Event

from tracetape._safety import attempt, guard
from tracetape.capture.llamaindex import _compat, components, extract, streams
from tracetape.capture.llamaindex.runs import Run, RunTable
from tracetape.spans import kinds, semconv
from tracetape.spans.encode import dumps, to_jsonable
from tracetape.spans.outcome import provider_error_attributes
from tracetape.spans.recorder import Recorder

P = ParamSpec("P")
R = TypeVar("R")

_failures: list[BaseException] = []


def strict_failures() -> list[BaseException]:
    """Errors strict mode raised inside a handler (the dispatcher hides them); tests
    assert this stays empty."""
    return _failures


def entry(where: str) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """`guard`, noting what strict mode re-raises before the dispatcher swallows it."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R | None]:
        guarded = guard(where)(fn)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            try:
                return guarded(*args, **kwargs)
            except Exception as exc:
                if len(_failures) < 100:
                    _failures.append(exc)
                raise

        return wrapper

    return decorate


def _arguments(bound_args: inspect.BoundArguments) -> dict[str, Any]:
    return {k: v for k, v in bound_args.arguments.items() if k not in ("self", "ctx")}


def output_json(result: Any) -> Any:
    """A chain's result as JSON: a response's text and source node ids, an event, ..."""
    if isinstance(result, Event):
        return components.event_json(result)
    text = getattr(result, "response", None)
    if text is not None or hasattr(result, "source_nodes"):
        nodes = getattr(result, "source_nodes", None) or []
        ids = [getattr(getattr(n, "node", n), "node_id", None) for n in nodes]
        return {"response": to_jsonable(text), "source_nodes": to_jsonable(ids)}
    return to_jsonable(result)


class TracetapeSpanHandler(BaseSpanHandler[SimpleSpan]):
    """Records LlamaIndex spans through a `Recorder`; get one from `handlers`."""

    _table: RunTable = PrivateAttr()

    def __init__(self, table: RunTable) -> None:
        super().__init__()
        self._table = table

    @classmethod
    def class_name(cls) -> str:
        return "TracetapeSpanHandler"

    @property
    def table(self) -> RunTable:
        """The open spans this handler (and its event handler) record into."""
        return self._table

    @property
    def recorder(self) -> Recorder:
        return self._table.recorder

    # BaseSpanHandler's own bookkeeping (open_spans) is not used: the table is ours.
    def new_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return None

    @entry("llamaindex.span_enter")
    def span_enter(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        table = self._table
        method = _compat.method_name(id_)
        kind = extract.classify(instance, method, tags)
        parent = table.find(parent_id)
        same = parent is not None and parent.kind == kind and parent.instance is instance
        if kind is None or (same and kind != kinds.WORKFLOW):
            table.hide(id_, parent_id)  # plumbing, or a model calling itself
            return
        reading = table.reading(instance, parent) if kind == kinds.LLM else None
        if reading is not None:
            table.hide(id_, reading)  # a streamed model call calling itself as it is read
            return
        arguments = _arguments(bound_args)
        attrs: dict[str, Any] = attempt(
            f"llamaindex.{kind}.start",
            lambda: self._start_attrs(kind, instance, method, tags, arguments, parent),
            {},
        )
        name = str(attrs.pop("_name", None) or _compat.span_name(id_))
        run = table.start(id_, parent_id, name, kind, attrs, instance)
        if kind == kinds.WORKFLOW and instance is None:
            run.event = next((v for v in arguments.values() if isinstance(v, Event)), None)
        if run.parent is None and self.recorder.settings.capture_content:
            payload = dumps(components.call_arguments(arguments))
            digest = self.recorder.content.put(payload, run.blobs)
            if digest:
                run.span.set_attribute(semconv.REPLAY_INPUT, dumps([digest]))

    def _start_attrs(
        self,
        kind: str,
        instance: Any,
        method: str,
        tags: dict[str, Any] | None,
        arguments: dict[str, Any],
        parent: Run | None,
    ) -> dict[str, Any]:
        recorder = self.recorder
        attrs: dict[str, Any] = {}
        run_id = (tags or {}).get(_compat.RUN_ID_TAG)
        if isinstance(run_id, str):
            attrs[semconv.LLAMAINDEX_RUN_ID] = run_id
        if kind in (kinds.LLM, kinds.EMBEDDING):
            attrs.update(extract.model_attributes(instance))
            if kind == kinds.EMBEDDING:
                attrs[semconv.EMBEDDING_METHOD] = method
            else:
                complete = "complete" in method
                attrs[semconv.OPERATION_NAME] = "text_completion" if complete else "chat"
                attrs[semconv.STREAMED] = "stream" in method
            return attrs
        if kind == kinds.RETRIEVER:
            attrs.update(components.retriever_attributes(instance, recorder))
            query = arguments.get("str_or_query_bundle")
            if query is not None and recorder.settings.capture_content:
                text = components.query_text(query)
                attrs[semconv.RETRIEVAL_QUERY] = text
                recorder.display(semconv.INPUT, text, attrs)
            return attrs
        if kind == kinds.TOOL:
            attrs.update(components.tool_attributes(instance, arguments, recorder))
            call_id = getattr(parent.event if parent is not None else None, "tool_id", None)
            if isinstance(call_id, str) and call_id:
                attrs[semconv.TOOL_CALL_ID] = call_id
            attrs["_name"] = attrs.get(semconv.TOOL_NAME)
            return attrs
        if kind in (kinds.WORKFLOW, kinds.AGENT) and instance is not None:  # a run
            attrs[semconv.LLAMAINDEX_WORKFLOW] = type(instance).__qualname__
            agent_name = getattr(instance, "name", None)
            if kind == kinds.AGENT and isinstance(agent_name, str):
                attrs[semconv.AGENT_NAME] = agent_name
            event = arguments.get("start_event")
            if event is not None and recorder.settings.capture_content:
                recorder.display(semconv.INPUT, components.event_json(event), attrs)
            return attrs
        if kind == kinds.WORKFLOW:  # a step
            attrs[semconv.LLAMAINDEX_STEP] = method
            attrs["_name"] = method
            event = next((v for v in arguments.values() if isinstance(v, Event)), None)
            if event is not None:
                attrs[semconv.LLAMAINDEX_INPUT_EVENT] = type(event).__name__
                if recorder.settings.capture_content:
                    recorder.display(semconv.INPUT, components.event_json(event), attrs)
            return attrs
        if recorder.settings.capture_content:
            recorder.display(semconv.INPUT, to_jsonable(arguments), attrs)
        return attrs

    @entry("llamaindex.span_exit")
    def span_exit(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> None:
        table = self._table
        if table.hidden.pop(id_, 0) != 0:
            return
        run = table.runs.get(id_)
        if run is None:
            return
        if run.kind == kinds.LLM and isinstance(result, Generator | AsyncGenerator):
            # The stream is consumed after this returns; the end event ends the span.
            run.awaiting_end = True
            table.release(run)
            return
        if run.parent is None and streams.keep_open(table, id_, run, result):
            return  # a streamed answer is read later: the query ends with its stream
        attrs = attempt(f"llamaindex.{run.kind}.end", lambda: self._end_attrs(run, result), {})
        if attrs:
            run.span.set_attributes(attrs)
        table.end(id_, ok=True)

    def _end_attrs(self, run: Run, result: Any) -> dict[str, Any]:
        recorder = self.recorder
        attrs: dict[str, Any] = {}
        if run.kind in (kinds.LLM, kinds.EMBEDDING):
            return attrs  # recorded from the end events
        if run.kind == kinds.RETRIEVER and isinstance(result, list):
            return components.nodes_attributes(result, recorder, run.blobs)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(result, Event):
            attrs[semconv.LLAMAINDEX_OUTPUT_EVENT] = type(result).__name__
        if run.kind == kinds.TOOL:
            content = getattr(result, "raw_output", None)
            if content is None:
                content = getattr(result, "content", result)
            if recorder.settings.capture_content:
                recorder.display(semconv.TOOL_CALL_RESULT, to_jsonable(content), attrs)
                recorder.display(semconv.OUTPUT, to_jsonable(content), attrs)
                digest = recorder.content.put(dumps(to_jsonable(result)), run.blobs)
                attrs[semconv.REPLAY_OUTPUT] = dumps([digest] if digest else [])
            error = getattr(result, "exception", None)
            if getattr(result, "is_error", False) and isinstance(error, BaseException):
                self._table.fail(run, error)
            return attrs
        if recorder.settings.capture_content and result is not None:
            recorder.display(semconv.OUTPUT, output_json(result), attrs)
        return attrs

    @entry("llamaindex.span_drop")
    def span_drop(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        table = self._table
        if table.hidden.pop(id_, 0) != 0:
            return
        run = table.runs.get(id_)
        if run is None:
            return
        if isinstance(err, _compat.control_flow_types()):
            run.span.set_attribute(semconv.CONTROL_FLOW, "cancelled")
        elif err is not None:
            table.fail(run, err)
            if run.kind == kinds.LLM:
                run.span.set_attributes(
                    attempt("llamaindex.llm.error", lambda: provider_error_attributes(err), {})
                )
        table.end(id_, ok=False)
