"""Fails when LlamaIndex changes the private things `capture.llamaindex._compat` touches."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from llama_index.core import Settings, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.span import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.vector_stores.types import VectorStoreQueryMode
from workflows import Workflow, step
from workflows.events import StartEvent, StopEvent

from tests.fakes import llamaindex as fakes
from tracetape.capture.llamaindex import _compat

_seen: list[tuple[str, Any, dict[str, Any]]] = []


class Collect(BaseSpanHandler[SimpleSpan]):
    """Notes (id, instance, tags) of every span entered."""

    def new_span(
        self,
        id_: str,
        bound_args: Any,
        instance: Any = None,
        parent_span_id: Any = None,
        tags: Any = None,
        **kwargs: Any,
    ) -> SimpleSpan:
        _seen.append((id_, instance, dict(tags or {})))
        return SimpleSpan(id_=id_, parent_id=parent_span_id)

    def prepare_to_exit_span(self, id_: str, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return self.open_spans.get(id_)

    def prepare_to_drop_span(self, id_: str, *args: Any, **kwargs: Any) -> SimpleSpan | None:
        return self.open_spans.get(id_)


def collect(fn: Any) -> list[tuple[str, Any, dict[str, Any]]]:
    handler = Collect()
    _seen.clear()
    root = get_dispatcher()
    root.add_span_handler(handler)
    try:
        fn()
    finally:
        root.span_handlers = [h for h in root.span_handlers if h is not handler]
    return list(_seen)


def test_span_ids_are_class_dot_method_dash_uuid():
    index = fakes.index()
    seen = collect(lambda: index.as_retriever(similarity_top_k=1).retrieve("cats"))
    names = [_compat.span_name(sid) for sid, _, _ in seen]
    assert names[0] == "VectorIndexRetriever.retrieve"
    assert _compat.method_name(seen[0][0]) == "retrieve"
    assert _compat.span_name("not-a-dispatcher-id") == "not-a-dispatcher-id"


def test_vector_index_retriever_keeps_its_settings_privately():
    Settings.tokenizer = str.split
    index = VectorStoreIndex.from_documents(
        fakes.documents(), embed_model=MockEmbedding(embed_dim=4)
    )
    retriever = index.as_retriever(similarity_top_k=3, alpha=0.5)
    settings = _compat.retriever_settings(retriever)
    assert settings["vector_store"] is index.vector_store
    assert isinstance(settings["embed_model"], MockEmbedding)
    assert settings["mode"] == VectorStoreQueryMode.DEFAULT
    assert settings["alpha"] == 0.5
    assert set(settings) == set(_compat._RETRIEVER_PRIVATE)  # pyright: ignore[reportPrivateUsage]
    assert retriever.similarity_top_k == 3


class OneStep(Workflow):
    @step
    async def only(self, ev: StartEvent) -> StopEvent:
        return StopEvent(result="done")


def test_workflow_steps_carry_the_step_tag_and_no_instance():
    async def main() -> Any:
        return await OneStep(timeout=5).run()

    seen = collect(lambda: asyncio.run(main()))
    run = [(sid, inst) for sid, inst, _ in seen if _compat.method_name(sid) == "run"]
    assert len(run) == 1 and isinstance(run[0][1], OneStep)
    steps = [(sid, inst, tags) for sid, inst, tags in seen if _compat.is_step(tags)]
    assert [(_compat.method_name(s), i) for s, i, _ in steps] == [("only", None)]
    assert steps[0][2][_compat.STEP_INPUT_TAG] == "StartEvent"
    assert any(_compat.RUN_ID_TAG in tags for _, _, tags in seen)


def test_control_flow_types_exist():
    names = {t.__name__ for t in _compat.control_flow_types()}
    assert names == {"CancelledError", "WorkflowCancelledByUser", "WaitingForEvent"}


def test_root_dispatcher_takes_handlers():
    root = _compat.root_dispatcher()
    assert root is get_dispatcher()
    assert isinstance(root.span_handlers, list) and isinstance(root.event_handlers, list)
    assert "instance" in inspect.signature(root.span_enter).parameters
