"""A recorded trace as replay reads it: its root input and output and its calls.

Read through the views (``spans``, and ``_blob_rows``: the ``blobs`` view's rows before
it merges duplicates): the model, tool and retriever spans in the order they started,
each with its recorded attributes and whole payloads (``tracetape.replay.input`` /
``.output`` hold content hashes; the blobs map each hash to its text in LangChain's
``dumpd`` form).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracetape.errors import NotFoundError, TracetapeError
from tracetape.replay import typed_values
from tracetape.spans import kinds, semconv, typed
from tracetape.spans.redact import REDACTED
from tracetape.store.access import Query, Scope

REPLAYED_KINDS = (kinds.LLM, kinds.TOOL, kinds.RETRIEVER, kinds.EMBEDDING)
_ROOT_KINDS = (kinds.CHAIN, kinds.GRAPH, kinds.AGENT)
_EMBEDDINGS = (*semconv.LANGCHAIN_EMBEDDING_METHODS, semconv.SDK_EMBEDDING_METHOD)
"""The embedding calls replay answers: LangChain's ``Embeddings`` and the ``openai`` SDK's."""


class NotReplayableError(TracetapeError):
    """The trace did not keep what replay needs (content capture off, payload too big)."""


@dataclass(frozen=True)
class RecordedCall:
    """One recorded model, tool or retriever call."""

    span_id: str
    kind: str
    name: str
    position: int
    """Index among the trace's replayed calls, in start order."""
    start: dt.datetime
    end: dt.datetime | None
    attributes: Mapping[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    error: tuple[str, str] | None = None
    """(error type, message) when the recorded call raised."""
    step: int | None = None
    """The LangGraph step of the outermost graph node the call ran in, if any."""
    inside: tuple[str, ...] = ()
    """Span ids of the recorded calls this one ran inside (a model call in a tool's body):
    an answer from the tape for any of them means this call is never made."""
    kept: bool = True
    """Whether its payloads were kept whole (not with content capture off or over the
    size cap): a call that was not can only run for real."""

    def overlaps(self, other: RecordedCall) -> bool:
        """Whether the two ran at the same time (parallel branches may swap order)."""
        if self.end is None or other.end is None:
            return True
        return self.start < other.end and other.start < self.end


@dataclass
class Recording:
    """One recorded trace, ready to be played back."""

    trace_id: str
    root_span_id: str
    root_input: Any
    calls: list[RecordedCall]
    blobs: dict[str, str] = field(default_factory=dict[str, str])
    revived: dict[str, Any] = field(default_factory=dict[str, Any])
    thread_id: str | None = None
    """The LangGraph thread the recorded run used (its checkpointer's key)."""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    """When the recorded root run started and ended."""
    root_output_digest: str | None = None
    """The content hash of the root output's stored form."""
    memo: dict[str, Any] = field(default_factory=dict[str, Any])
    """What players derive from the recording alone (request keys), kept with it so a
    trace replayed again derives nothing twice (shared by its copies)."""

    def answer(self, digest: str) -> Any:
        """A fresh copy of the payload ``digest`` revived as LangChain objects (revived
        once, when read: the app may change what it is given)."""
        return copy.deepcopy(self.revived[digest])

    def payload(self, digest: str) -> Any:
        """The JSON value stored under ``digest``."""
        text = self.blobs.get(digest)
        if text is None:
            raise NotReplayableError(f"payload {digest[:12]}… is missing from the tape")
        return json.loads(text)

    def payloads(self, digests: Sequence[str]) -> list[Any]:
        """The JSON values stored under ``digests``, in order."""
        return [self.payload(d) for d in digests]

    def redacted_input(self) -> list[str]:
        """Where the recorded root input had a secret redacted (``question``,
        ``config.api_key``): the re-run is given the marker in its place."""
        found: list[str] = []

        def walk(value: Any, path: str) -> None:
            if isinstance(value, str):
                if REDACTED in value:
                    found.append(path or "the input")
            elif isinstance(value, Mapping):
                for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
                    walk(item, f"{path}.{key}" if path else str(key))  # pyright: ignore[reportUnknownArgumentType]
            elif isinstance(value, list | tuple):
                for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
                    walk(item, f"{path}[{index}]")

        walk(self.root_input, "")
        return found

    def tool_names(self) -> set[str]:
        """The names of the tools the recorded run called."""
        return {call_name(c) for c in self.calls if c.kind == kinds.TOOL}


def call_name(call: RecordedCall) -> str:
    """A recorded call's name: a tool's own name, else its span's."""
    return str(call.attributes.get(semconv.TOOL_NAME) or call.name)


def json_value(value: Any) -> Any:
    """A JSON attribute as recorded: text on a live span, parsed in the ``spans`` view."""
    return json.loads(value) if isinstance(value, str) else value


def hashes_of(value: Any) -> tuple[str, ...]:
    """The content hashes a ``tracetape.replay.*`` attribute lists."""
    parsed = json_value(value) if value else None
    return tuple(str(h) for h in parsed) if isinstance(parsed, list) else ()  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def attributes_of(value: Any) -> dict[str, Any]:
    """A span's ``attributes`` column as a dict."""
    if isinstance(value, str) and value:
        parsed = json.loads(value)
        if isinstance(parsed, dict):
            return {str(k): v for k, v in parsed.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return {}


def _unserialisable(value: Any) -> str | None:
    """The repr of the first object in a stored value that LangChain could not
    serialise (``dumpd`` keeps only its repr), if any."""
    if isinstance(value, Mapping):
        if value.get("lc") == 1 and value.get("type") == "not_implemented":
            return str(value.get("repr") or value.get("id"))
        found = (_unserialisable(v) for v in value.values())  # pyright: ignore[reportUnknownVariableType]
    elif isinstance(value, list):
        found = (_unserialisable(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    else:
        return None
    return next((f for f in found if f is not None), None)


def _parsed_from_content(value: Any) -> Any:
    """A stored AI message whose ``additional_kwargs["parsed"]`` (the pydantic object
    langchain-openai's structured output parses its JSON content into) was kept only as
    a repr: ``parsed`` again as that JSON, which the structured-output parser accepts."""
    if not isinstance(value, Mapping) or not isinstance(value.get("kwargs"), Mapping):
        return value
    kwargs: Mapping[str, Any] = value["kwargs"]
    extra: Any = kwargs.get("additional_kwargs")
    if not isinstance(extra, Mapping) or _unserialisable(extra.get("parsed")) is None:  # pyright: ignore[reportUnknownMemberType]
        return value
    rest: dict[str, Any] = {str(k): v for k, v in extra.items() if k != "parsed"}  # pyright: ignore[reportUnknownVariableType]
    with contextlib.suppress(ValueError):  # not JSON: no ``parsed``, as the parser allows
        rest["parsed"] = json.loads(str(kwargs.get("content")))
    return {**value, "kwargs": {**kwargs, "additional_kwargs": rest}}


def _serialised_by_langchain(value: Any) -> bool:
    """Whether ``value`` holds one of LangChain's serialised objects (``{"lc": 1, ...}``)."""
    if isinstance(value, dict):
        return "lc" in value or any(_serialised_by_langchain(v) for v in value.values())  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return any(_serialised_by_langchain(v) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return False


def load_payload(value: Any) -> Any:
    """A stored JSON value revived with LangChain's loader (messages, documents, ...).

    Raises `NotReplayableError` when it holds an object LangChain could not serialise.
    A value without LangChain's serialised objects (a LlamaIndex app's query, say) is
    returned as it is, so replay needs langchain-core only for what LangChain recorded.
    """
    if typed_values.holds_typed(value):
        return typed_values.revive(value, _load_any)
    if not _serialised_by_langchain(value):
        return value
    from langchain_core._api import LangChainBetaWarning
    from langchain_core.load import load

    value = _parsed_from_content(value)
    # Revived in the caller's thread before the re-run starts (never from the app's
    # worker threads): warning filters are process-wide state.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LangChainBetaWarning)
            return load(value, allowed_objects="core")
    except NotImplementedError as exc:
        what = _unserialisable(value) or "an object"
        raise NotReplayableError(
            f"a recorded payload holds {what[:120]}, which LangChain could not serialise "
            "(only its repr was kept), so it cannot be played back"
        ) from exc


@functools.cache
def _plain_classes() -> dict[tuple[str, ...], type]:
    """The classes a recorded answer usually holds (messages, documents), by the id
    LangChain's serialised form names them with."""
    from langchain_core.documents import Document
    from langchain_core.messages import (
        AIMessage,
        ChatMessage,
        FunctionMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
    )

    classes = (AIMessage, HumanMessage, SystemMessage, ToolMessage, ChatMessage, FunctionMessage)
    return {tuple(cls.lc_id()): cls for cls in (*classes, Document)}


def _plain(value: Any) -> Any:
    """A serialised message or document built by calling its class, as LangChain's
    loader would, when its kwargs are plain JSON; None when it needs the loader."""
    if not isinstance(value, dict) or value.get("lc") != 1 or value.get("type") != "constructor":
        return None
    ident: Any = value.get("id")
    kwargs: Any = value.get("kwargs")
    cls = _plain_classes().get(tuple(ident)) if isinstance(ident, list) else None  # pyright: ignore[reportUnknownArgumentType]
    if cls is None or not isinstance(kwargs, dict):
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def _load_any(value: Any) -> Any:
    if isinstance(value, list):
        return [load_payload(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return load_payload(value)


def revive(text: str) -> Any:
    """A stored answer (JSON text) revived as LangChain objects (see `load_payload`).

    The loader walks every nested value to find serialised objects and escaped user
    data; an answer whose text names ``"lc"`` only as the top-level object's (or each
    listed object's) own key, with nothing escaped, holds neither below it, so its
    class is called directly: what the loader would do, ~5x cheaper.
    """
    value = json.loads(text)
    # A datetime, a pydantic model, a Command, ...: its stored form always names its
    # type this way, so a text without it needs no walk (~20 µs an answer).
    if _TYPED in text and typed_values.holds_typed(value):
        return typed_values.revive(value, _load_any)
    if "__lc_escaped__" not in text:
        marks = text.count('"lc":')
        if marks == 1:
            found = _plain(value)
            if found is not None:
                return found
        elif isinstance(value, list) and marks == len(value):  # pyright: ignore[reportUnknownArgumentType]
            items = [_plain(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
            if all(item is not None for item in items):
                return items
    if isinstance(value, list):
        return [load_payload(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return load_payload(value)


_TYPED = f'"type":"{typed.TYPE}"'
"""How a payload holding a value kept as what it was (`spans.typed`) reads."""

# One pass over the trace's rows without their displayed inputs and outputs: the
# ``replay`` column (schema v4) holds what replay reads of each span. Rows recorded
# before it (NULL there) have the attributes read in a second query, only for the kinds
# it holds them for. Times come as epoch microseconds: turning timestamps with a time
# zone into datetimes costs pyarrow ~3 µs each.
_READ = (
    "SELECT span_id, parent_span_id, kind, name, epoch_us(start_time) AS start_us, "
    "epoch_us(end_time) AS end_us, status, status_message, error_type, replay "
    "FROM _span_rows WHERE trace_id = ? ORDER BY start_us, span_id"
)
_HELD_FOR = (*REPLAYED_KINDS, kinds.NODE, *_ROOT_KINDS)
_OLDER = (
    "SELECT span_id, attributes FROM _span_rows WHERE trace_id = ? AND replay IS NULL "
    "AND kind IN (" + ", ".join(f"'{k}'" for k in _HELD_FOR) + ")"
)


def _rows(query: Query, trace_id: str) -> list[dict[str, Any]]:
    """The trace's spans in start order, each with ``attrs``: what replay reads of it."""
    scope = Scope(traces=frozenset([trace_id]))
    rows = query(_READ, [trace_id], scope=scope).to_pylist()
    older = [r for r in rows if r["replay"] is None and r["kind"] in _HELD_FOR]
    if older:  # recorded by tracetape before schema v4
        found = {
            r["span_id"]: r["attributes"]
            for r in query(_OLDER, [trace_id], scope=scope).to_pylist()
        }
        for row in older:
            row["replay"] = found.get(row["span_id"])
    for row in rows:
        text = row["replay"]
        attrs = attributes_of(text) if text and text != "{}" else {}
        row["attrs"] = attrs
        step = attrs.get(semconv.LANGGRAPH_STEP) if row["kind"] == kinds.NODE else None
        row["step"] = step if isinstance(step, int) and not isinstance(step, bool) else None
        thread = attrs.get(semconv.LANGGRAPH_THREAD_ID)
        row["thread_id"] = str(thread) if thread is not None else None
    return rows


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _time(epoch_us: int | None) -> dt.datetime | None:
    return None if epoch_us is None else _EPOCH + dt.timedelta(microseconds=epoch_us)


def _steps(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Span id -> the step of the outermost LangGraph node it ran in (a node inside a
    subgraph counts its own steps; the outer graph's step is what its checkpoints hold)."""
    by_id = {str(r["span_id"]): r for r in rows}
    steps: dict[str, int] = {}
    for row in rows:
        step: int | None = None
        current: Mapping[str, Any] | None = row
        for _ in range(256):  # a parent cycle cannot occur; bound the walk all the same
            if current is None:
                break
            if current["kind"] == kinds.NODE and current["step"] is not None:
                step = int(current["step"])
            parent = current["parent_span_id"]
            current = by_id.get(str(parent)) if parent else None
        if step is not None:
            steps[str(row["span_id"])] = step
    return steps


def _inside(rows: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Span id -> the replayed calls among its ancestors (only calls that have any)."""
    by_id = {str(r["span_id"]): r for r in rows}
    found: dict[str, tuple[str, ...]] = {}
    for row in rows:
        if row["kind"] not in REPLAYED_KINDS:
            continue
        outer: list[str] = []
        parent = row["parent_span_id"]
        for _ in range(256):  # bounded, as in `_steps`
            current = by_id.get(str(parent)) if parent else None
            if current is None:
                break
            if current["kind"] in REPLAYED_KINDS:
                outer.append(str(current["span_id"]))
            parent = current["parent_span_id"]
        if outer:
            found[str(row["span_id"])] = tuple(outer)
    return found


def read(query: Query, trace_id: str) -> Recording:
    """The recording of ``trace_id`` (raises `NotFoundError`, `NotReplayableError`)."""
    rows = _rows(query, trace_id)
    if not rows:
        raise NotFoundError(f"no trace {trace_id!r} on the tape")
    root: dict[str, Any] | None = None
    calls: list[RecordedCall] = []
    steps = _steps(rows) if any(r["kind"] == kinds.NODE for r in rows) else {}
    inside = _inside(rows)
    threads: list[str] = []
    for row in rows:
        kind = str(row["kind"])
        attrs: dict[str, Any] = row["attrs"]
        if root is None and kind in _ROOT_KINDS and attrs.get(semconv.REPLAY_INPUT):
            root = row
        if row["thread_id"] is not None:
            threads.append(row["thread_id"])
        if kind not in REPLAYED_KINDS:
            continue
        if kind == kinds.EMBEDDING and attrs.get(semconv.REPLAY_INPUT) in (None, ""):
            # Inside a retriever, or recorded before texts were kept: runs live. (An
            # empty list marks texts too big to keep: the call keeps its place.)
            continue
        if kind == kinds.EMBEDDING and attrs.get(semconv.EMBEDDING_METHOD) not in _EMBEDDINGS:
            continue  # a LlamaIndex embedding (a top-level one keeps its input): runs live
        calls.append(
            RecordedCall(
                span_id=str(row["span_id"]),
                kind=kind,
                name=str(row["name"]),
                position=len(calls),
                start=_EPOCH + dt.timedelta(microseconds=row["start_us"]),
                end=_time(row["end_us"]),
                attributes=attrs,
                inputs=hashes_of(attrs.get(semconv.REPLAY_INPUT)),
                outputs=hashes_of(attrs.get(semconv.REPLAY_OUTPUT)),
                error=(str(row["error_type"] or ""), str(row["status_message"] or ""))
                if row["status"] == "error"
                else None,
                step=steps.get(str(row["span_id"])),
                inside=inside.get(str(row["span_id"]), ()),
                kept=attrs.get(semconv.REPLAYABLE) is not False,
            )
        )
    if root is None:
        raise NotReplayableError(
            f"trace {trace_id} has no LangChain root run with a kept input: "
            "it was recorded with content capture off, or not from a LangChain runnable"
        )
    wanted = {h for c in calls for h in (*c.inputs, *c.outputs)}
    root_in = hashes_of(root["attrs"].get(semconv.REPLAY_INPUT))
    root_out = hashes_of(root["attrs"].get(semconv.REPLAY_OUTPUT))
    wanted.update(root_in, root_out)
    blob_rows = query(
        "SELECT hash, content FROM _blob_rows WHERE hash IN (SELECT unnest(?))",
        [sorted(wanted)],
        scope=Scope(blobs=frozenset(wanted)),
    ).to_pylist()
    if root["thread_id"] is not None:
        threads.insert(0, str(root["thread_id"]))
    recording = Recording(
        trace_id=trace_id,
        root_span_id=str(root["span_id"]),
        root_input=None,
        calls=calls,
        blobs={str(r["hash"]): str(r["content"]) for r in blob_rows},
        thread_id=threads[0] if threads else None,
        start=_time(root["start_us"]),
        end=_time(root["end_us"]),
        root_output_digest=root_out[0] if root_out else None,
    )
    if not root_in:
        raise NotReplayableError(f"trace {trace_id}: the root input was not kept")
    recording.root_input = load_payload(recording.payload(root_in[0]))

    for call in calls:
        for digest in call.outputs if call.kept else ():  # see `Player.check_kept`
            text = recording.blobs.get(digest)
            if text is None:
                raise NotReplayableError(f"payload {digest[:12]}… is missing from the tape")
            if call.kind == kinds.RETRIEVER or text.startswith('{"lc":1') or _TYPED in text:
                recording.revived[digest] = revive(text)
            else:  # a tool's plain value, vectors: not LangChain's serialised form
                recording.revived[digest] = json.loads(text)
    return recording
