"""A recorded trace as replay reads it: its root input and output and its calls.

Read through the public views only (``spans`` and ``blobs``): the model, tool and
retriever spans in the order they started, each with its recorded attributes and whole
payloads (``tracetape.replay.input`` / ``.output`` hold content hashes; ``blobs`` maps
each hash to its text in LangChain's ``dumpd`` form).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tracetape.errors import NotFoundError, TracetapeError
from tracetape.spans import kinds, semconv

Query = Callable[[str, Sequence[Any]], pa.Table]
REPLAYED_KINDS = (kinds.LLM, kinds.TOOL, kinds.RETRIEVER)
_ROOT_KINDS = (kinds.CHAIN, kinds.GRAPH, kinds.AGENT)


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
    root_output: Any
    calls: list[RecordedCall]
    blobs: dict[str, str] = field(default_factory=dict[str, str])
    revived: dict[str, Any] = field(default_factory=dict[str, Any])

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


def json_value(value: Any) -> Any:
    """A JSON attribute as recorded: text on a live span, parsed in the ``spans`` view."""
    return json.loads(value) if isinstance(value, str) else value


def _hashes(value: Any) -> tuple[str, ...]:
    parsed = json_value(value) if value else None
    return tuple(str(h) for h in parsed) if isinstance(parsed, list) else ()  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, str) and value:
        parsed = json.loads(value)
        if isinstance(parsed, dict):
            return {str(k): v for k, v in parsed.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return {}


def load_payload(value: Any) -> Any:
    """A stored JSON value revived with LangChain's loader (messages, documents, ...)."""
    from langchain_core._api import LangChainBetaWarning
    from langchain_core.load import load

    # Revived in the caller's thread before the re-run starts (never from the app's
    # worker threads): warning filters are process-wide state.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangChainBetaWarning)
        return load(value, allowed_objects="core")


def read(query: Query, trace_id: str) -> Recording:
    """The recording of ``trace_id`` (raises `NotFoundError`, `NotReplayableError`)."""
    rows = query(
        "SELECT span_id, kind, name, start_time, end_time, attributes, status, "
        "status_message, error_type FROM spans "
        "WHERE trace_id = ? ORDER BY start_time, span_id",
        [trace_id],
    ).to_pylist()
    if not rows:
        raise NotFoundError(f"no trace {trace_id!r} on the tape")
    root: dict[str, Any] | None = None
    calls: list[RecordedCall] = []
    for row in rows:
        attrs = _attributes(row["attributes"])
        kind = str(row["kind"])
        if root is None and kind in _ROOT_KINDS and semconv.REPLAY_INPUT in attrs:
            root = {**row, "attrs": attrs}
        if kind not in REPLAYED_KINDS:
            continue
        if attrs.get(semconv.REPLAYABLE) is False:
            raise NotReplayableError(
                f"span {row['span_id']} ({kind} {row['name']!r}) of trace {trace_id} did "
                "not keep its payloads whole (content capture off or over the size cap)"
            )
        calls.append(
            RecordedCall(
                span_id=str(row["span_id"]),
                kind=kind,
                name=str(row["name"]),
                position=len(calls),
                start=row["start_time"],
                end=row["end_time"],
                attributes=attrs,
                inputs=_hashes(attrs.get(semconv.REPLAY_INPUT)),
                outputs=_hashes(attrs.get(semconv.REPLAY_OUTPUT)),
                error=(str(row["error_type"] or ""), str(row["status_message"] or ""))
                if row["status"] == "error"
                else None,
            )
        )
    if root is None:
        raise NotReplayableError(
            f"trace {trace_id} has no LangChain root run with a kept input: "
            "it was recorded with content capture off, or not from a LangChain runnable"
        )
    root_attrs: dict[str, Any] = root["attrs"]
    wanted = {h for c in calls for h in (*c.inputs, *c.outputs)}
    root_in = _hashes(root_attrs.get(semconv.REPLAY_INPUT))
    root_out = _hashes(root_attrs.get(semconv.REPLAY_OUTPUT))
    wanted.update(root_in, root_out)
    blob_rows = query(
        "SELECT hash, content FROM blobs WHERE list_contains(?, hash)", [sorted(wanted)]
    ).to_pylist()
    recording = Recording(
        trace_id=trace_id,
        root_span_id=str(root["span_id"]),
        root_input=None,
        root_output=None,
        calls=calls,
        blobs={str(r["hash"]): str(r["content"]) for r in blob_rows},
    )
    if not root_in:
        raise NotReplayableError(f"trace {trace_id}: the root input was not kept")
    recording.root_input = load_payload(recording.payload(root_in[0]))
    if root_out:
        recording.root_output = load_payload(recording.payload(root_out[0]))
    for call in calls:
        for digest in call.outputs:
            value = recording.payload(digest)
            if call.kind == kinds.RETRIEVER and isinstance(value, list):
                recording.revived[digest] = [load_payload(d) for d in value]  # pyright: ignore[reportUnknownVariableType]
            elif isinstance(value, dict) and value.get("lc") == 1:  # pyright: ignore[reportUnknownMemberType]
                recording.revived[digest] = load_payload(value)
            else:
                recording.revived[digest] = value
    return recording
