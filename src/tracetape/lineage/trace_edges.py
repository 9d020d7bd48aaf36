"""Edges inside one trace and from its spans to the artifacts they used.

* prompt artifact -> prompt span (``template``): the span's template version.
* model artifact -> llm span (``model``): the model that answered, with the call's
  sampling parameters on the edge.
* dataset artifact -> retriever span (``retrieved_from``): the span returned documents
  the dataset holds. A document matches by the hash of its text (``match: content``),
  else by the id of the document it was cut from (LlamaIndex ``ref_doc_id``), else, when
  no text was recorded (content capture off), by its own id.
* prompt span -> llm span (``prompt``): the rendered prompt's texts all appear in the
  model's input messages; of several such prompts the latest to start before the call.
* retriever span -> llm span (``context``): a returned document's text appears in the
  model's input (directly, or through a tool message).
* llm span -> tool span (``tool_call``): the model asked for that call (by tool call
  id); tool span -> llm span (``tool_result``): the call's answer is in the model's
  input. So in an agent loop the final answer reaches every earlier call it built on.

When the texts needed were not recorded, or not whole (cut to the display limit, earlier
messages left out), and they do not match as far as they go, the last two fall back to
order (``match: order``): the latest prompt span that ended before the call, and every
retriever span that did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracetape.lineage import derived
from tracetape.lineage.derived import Document
from tracetape.lineage.graph import Graph, Node
from tracetape.spans import semconv
from tracetape.spans.encode import TRUNCATION_MARKER

OMITTED = "omitted_earlier_messages"
"""The marker message that stands for the earliest messages a display left out."""


@dataclass(frozen=True)
class Dataset:
    """A logged artifact with members: its documents' text hashes and ids."""

    artifact_id: str
    hashes: frozenset[str]
    ids: frozenset[str]

    def match(self, doc: Document) -> str | None:
        """How ``doc`` matches this dataset (see the module docstring), or None."""
        if doc.content_sha256 is not None and doc.content_sha256 in self.hashes:
            return "content"
        if doc.ref_doc_id is not None and doc.ref_doc_id in self.ids:
            return "ref_doc_id"
        if doc.content_sha256 is None and doc.id is not None and doc.id in self.ids:
            return "id"
        return None


def dataset_from_blob(artifact_id: str, content: Mapping[str, Any]) -> Dataset:
    """A `Dataset` from its members blob (`tracetape.store.artifacts`)."""
    hashes = content.get("content_sha256") or []
    ids = content.get("ids") or []
    return Dataset(
        artifact_id,
        frozenset(h for h in hashes if isinstance(h, str)),
        frozenset(i for i in ids if isinstance(i, str)),
    )


def retrieved(attrs: Mapping[str, Any], blobs: Mapping[str, Any]) -> list[Document]:
    """The documents a retriever span returned (displayed, else whole, else ids)."""
    shown = derived.displayed_documents(attrs.get(semconv.RETRIEVAL_DOCUMENTS))
    if shown is not None:
        return shown
    for digest in derived.payload_hashes(attrs):
        if digest in blobs:
            return derived.payload_documents(blobs[digest])
    return derived.id_documents(attrs)


def needs_payload(attrs: Mapping[str, Any]) -> list[str]:
    """Blob hashes to read for a retriever span whose displayed documents were cut."""
    if derived.displayed_documents(attrs.get(semconv.RETRIEVAL_DOCUMENTS)) is not None:
        return []
    return derived.payload_hashes(attrs)


def dataset_matches(docs: Sequence[Document], datasets: Sequence[Dataset]) -> dict[str, Any]:
    """artifact id -> {"documents": [...], "match": how} for every dataset hit."""
    hits: dict[str, Any] = {}
    for dataset in datasets:
        matched = [(d, how) for d in docs if (how := dataset.match(d)) is not None]
        if matched:
            hits[dataset.artifact_id] = {
                "documents": [d.id or (d.content_sha256 or "")[:12] for d, _ in matched],
                "match": sorted({how for _, how in matched}),
            }
    return hits


def _ended_before(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> bool:
    end: dt.datetime | None = earlier["end_time"]
    start: dt.datetime | None = later["start_time"]
    return end is not None and start is not None and end <= start


def _started_before(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> bool:
    # LlamaIndex opens the model call's span a few microseconds before the prompt span
    # that formatted its input ends: where texts are compared, starting first is enough.
    first: dt.datetime | None = earlier["start_time"]
    start: dt.datetime | None = later["start_time"]
    return first is not None and start is not None and first <= start


def _contains(haystack: Sequence[str], needle: str) -> bool:
    return bool(needle) and any(needle in text for text in haystack)


@dataclass(frozen=True)
class Texts:
    """The texts of a span's messages, and whether they are all there: not cut to the
    display limit, no earlier message left out, no text cut short."""

    texts: list[str]
    complete: bool


_CUT = TRUNCATION_MARKER.split("{", 1)[0]


def _texts(attrs: Mapping[str, Any], key: str) -> Texts:
    value = attrs.get(key)
    if value is None or derived.truncated(value):
        return Texts([], False)
    texts = [t for t in derived.message_texts(value) if t]
    omitted = isinstance(value, list) and any(
        isinstance(m, Mapping) and OMITTED in m  # pyright: ignore[reportUnknownArgumentType]
        for m in value  # pyright: ignore[reportUnknownVariableType]
    )
    return Texts(texts, not omitted and not any(_CUT in t for t in texts))


def _prompt_edges(
    graph: Graph, llm: Mapping[str, Any], prompts: Sequence[Mapping[str, Any]]
) -> None:
    started = [p for p in prompts if _started_before(p, llm) and p["span_id"] != llm["span_id"]]
    before = [p for p in started if _ended_before(p, llm)]
    inputs = _texts(llm["attributes"], semconv.INPUT_MESSAGES)
    rendered = {p["span_id"]: _texts(p["attributes"], semconv.OUTPUT) for p in started}
    matched = [
        p
        for p in started
        if rendered[p["span_id"]].texts
        and all(_contains(inputs.texts, text) for text in rendered[p["span_id"]].texts)
    ]
    how = "content"
    unsure = not inputs.complete or any(not rendered[p["span_id"]].complete for p in before)
    if not matched and before and unsure:
        matched, how = before, "order"
    if matched:
        chosen = max(matched, key=lambda p: (p["start_time"], p["span_id"]))
        graph.add_edge(chosen["span_id"], llm["span_id"], "prompt", match=how)


def _context_edges(
    graph: Graph,
    llm: Mapping[str, Any],
    retrievers: Sequence[tuple[Mapping[str, Any], list[Document]]],
) -> None:
    inputs = _texts(llm["attributes"], semconv.INPUT_MESSAGES)
    for retriever, docs in retrievers:
        if not _started_before(retriever, llm):
            continue
        texts = [d.text for d in docs if d.text]
        used = [
            d.id or (d.content_sha256 or "")[:12]
            for d in docs
            if d.text and _contains(inputs.texts, d.text)
        ]
        if used:
            graph.add_edge(
                retriever["span_id"], llm["span_id"], "context", match="content", documents=used
            )
        elif (not inputs.complete or not texts) and _ended_before(retriever, llm):
            graph.add_edge(retriever["span_id"], llm["span_id"], "context", match="order")


def add_artifact_uses(graph: Graph, span: Mapping[str, Any]) -> None:
    """The prompt or model artifact a span used, as a node and an edge."""
    attrs: Mapping[str, Any] = span["attributes"]
    prompt_id = attrs.get(semconv.PROMPT_HASH)
    if span["kind"] == "prompt" and isinstance(prompt_id, str) and prompt_id.startswith("sha256:"):
        name = str(attrs.get(semconv.LANGCHAIN_RUN_NAME) or span["name"])
        info = {
            k.removeprefix("tracetape.prompt."): attrs[k]
            for k in (semconv.PROMPT_CLASS, semconv.PROMPT_FORMAT, semconv.PROMPT_TEMPLATE)
            if k in attrs
        }
        graph.add_node(Node(prompt_id, "artifact", "prompt", name, attributes=info))
        graph.add_edge(prompt_id, span["span_id"], "template")
    if span["kind"] == "llm":
        identity = derived.model_identity(attrs)
        if identity is not None:
            model_id = derived.model_artifact_id(identity)
            name = derived.model_name(identity)
            graph.add_node(Node(model_id, "artifact", "model", name, attributes=dict(identity)))
            graph.add_edge(model_id, span["span_id"], "model", **derived.request_params(attrs))


def add_trace(
    graph: Graph,
    spans: Sequence[Mapping[str, Any]],
    datasets: Sequence[Dataset],
    blobs: Mapping[str, Any],
) -> None:
    """Every node and edge of one trace's spans (in start order) but the containment."""
    prompts = [s for s in spans if s["kind"] == "prompt"]
    retrievers: list[tuple[Mapping[str, Any], list[Document]]] = []
    for span in spans:
        add_artifact_uses(graph, span)
        if span["kind"] == "retriever":
            docs = retrieved(span["attributes"], blobs)
            retrievers.append((span, docs))
            for artifact_id, hit in dataset_matches(docs, datasets).items():
                graph.add_edge(artifact_id, span["span_id"], "retrieved_from", **hit)
    tools: dict[str, list[Mapping[str, Any]]] = {}
    for span in spans:
        call_id = span["attributes"].get(semconv.TOOL_CALL_ID)
        if span["kind"] == "tool" and isinstance(call_id, str):
            tools.setdefault(call_id, []).append(span)
    for span in spans:
        if span["kind"] == "llm":
            _prompt_edges(graph, span, prompts)
            _context_edges(graph, span, retrievers)
            _tool_edges(graph, span, tools)


def _tool_edges(
    graph: Graph, llm: Mapping[str, Any], tools: Mapping[str, Sequence[Mapping[str, Any]]]
) -> None:
    attrs: Mapping[str, Any] = llm["attributes"]
    for call_id in derived.tool_call_ids(attrs.get(semconv.INPUT_MESSAGES), "tool_call_response"):
        for tool in tools.get(call_id, ()):
            if _started_before(tool, llm):
                graph.add_edge(tool["span_id"], llm["span_id"], "tool_result", call_id=call_id)
    for call_id in derived.tool_call_ids(attrs.get(semconv.OUTPUT_MESSAGES), "tool_call"):
        for tool in tools.get(call_id, ()):
            if _started_before(llm, tool):
                graph.add_edge(llm["span_id"], tool["span_id"], "tool_call", call_id=call_id)
