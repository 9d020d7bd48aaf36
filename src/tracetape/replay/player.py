"""`Player`: answers a re-run's model, tool, retriever and embedding calls from a recording.

Model calls are LangChain chat models (`model`), completion models (`completion`) and
raw ``openai`` SDK chat completions (`chat_completion`, see `openai_sdk`): one sequence,
so a graph mixing them is matched in the order it called them. Embedding calls are
LangChain ``Embeddings`` (`embedding`) and raw SDK ``embeddings.create``
(`sdk_embedding`), matched by their texts (the whole request, for the SDK).

A call is answered by the recorded call of its kind that comes next in the trace and
asked exactly the same (the whole request, see `requests`). Calls that ran in parallel
in the recording may come in another order. The first call that asks something else is
a `Divergence`: replay stops there (``on_divergence="stop"``) or lets the model and the
retrievers run for real from there on (``"live"``). A tool runs for real only when named
in ``live`` (by name or as ``"tool"``): tools can have side effects. Recorded calls the
re-run never made are divergences too, found at its end (see `Player.finish`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from tracetape.replay import openai_sdk, requests
from tracetape.replay.keys import Encoder, RequestKeys, json_attr
from tracetape.replay.recording import (
    REPLAYED_KINDS,
    NotReplayableError,
    RecordedCall,
    Recording,
    call_name,
    json_value,
)
from tracetape.replay.result import Divergence, ReplayDivergence, recorded_error
from tracetape.spans import kinds, semconv, vectors
from tracetape.spans.encode import content_hash, dumps, to_jsonable
from tracetape.spans.recorder import Recorder, current_capture_span

OnDivergence = Literal["stop", "live"]


def _live_attributes(kind: str) -> Mapping[str, Any]:
    """The attributes of the span capture just opened for this call (same encoding as
    the recording's, so the two compare exactly)."""
    span = current_capture_span.get()
    attrs: Mapping[str, Any] = getattr(span, "attributes", None) or {}
    return attrs if attrs.get(semconv.KIND) == kind else {}


class Player:
    """Answers calls from ``recording`` while installed (see `_compat.active`)."""

    def __init__(
        self,
        recording: Recording,
        live: Iterable[str] = (),
        on_divergence: OnDivergence = "stop",
        encoder: Encoder | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        """``encoder`` gives live messages' stored forms as JSON text and their content
        hashes (capture's own, cached encoding); by default they are serialised here.
        ``recorder`` records the re-run's raw ``openai`` SDK calls when capture does not
        (see `openai_record`)."""
        self.recorder = recorder
        if on_divergence not in ("stop", "live"):
            raise ValueError(f"on_divergence must be 'stop' or 'live', not {on_divergence!r}")
        self.recording = recording
        self.live = frozenset((live,) if isinstance(live, str) else live)
        self.called_tools: set[str] = set()
        """Names of the tools the re-run called (answered or run)."""
        self.on_divergence = on_divergence
        self.divergences: list[Divergence] = []
        self.gone_live = False
        self.stopped = False
        self._lock = threading.Lock()
        self._pending: dict[str, list[RecordedCall]] = {k: [] for k in REPLAYED_KINDS}
        for call in recording.calls:
            self._pending[call.kind].append(call)
        self._embedded = bool(self._pending[kinds.EMBEDDING])
        self.from_tape = 0
        """Calls answered from the recording so far."""
        self.ran_live = 0
        """Calls that ran for real so far (pinned by ``live`` or after a divergence)."""
        self.keys = RequestKeys(recording, encoder)

    def check_kept(self) -> None:
        """Raise `NotReplayableError` for a recorded call whose payloads were not kept
        whole when the replay would have to answer it (it is not named in ``live``)."""
        for call in self.recording.calls:
            live = call.kind in self.live or (
                call.kind == kinds.TOOL and call_name(call) in self.live
            )
            if not call.kept and not live:
                raise NotReplayableError(
                    f"span {call.span_id} ({call.kind} {call.name!r}) of trace "
                    f"{self.recording.trace_id} did not keep its payloads whole (content "
                    f"capture off or over the size cap): it can only run for real, with "
                    f"live=({(call.kind if call.kind != kinds.TOOL else call_name(call))!r},)"
                )

    def _live(self) -> None:
        with self._lock:
            self.ran_live += 1

    def _instead_live(self) -> None:
        """A call matched to its recorded place that runs for real all the same (its
        answer was not kept): counted as run, not as answered."""
        with self._lock:
            self.from_tape -= 1
            self.ran_live += 1

    # -- what runs for real --------------------------------------------------------------
    def _live_kind(self, kind: str) -> bool:
        return kind in self.live or (self.gone_live and kind != kinds.TOOL)

    def stream_allowed(self) -> bool:
        """Whether a model may stream (only when it runs for real)."""
        return self._live_kind(kinds.LLM)

    # -- matching -----------------------------------------------------------------------
    def _take(
        self,
        kind: str,
        same: Callable[[RecordedCall], bool],
        describe: Callable[[RecordedCall | None], tuple[list[str], list[str]]],
        runs_live: bool,
    ) -> RecordedCall | None:
        """The recorded call this one replays, or None to run for real (after a
        divergence, in ``"live"`` mode); raises `ReplayDivergence` otherwise."""
        with self._lock:
            if self.stopped:
                raise ReplayDivergence(self.divergences[0])
            pending = self._pending[kind]
            head = pending[0] if pending else None
            for i, call in enumerate(pending):
                # Out of order only among calls that ran alongside the expected one.
                if head is not None and i > 0 and not call.overlaps(head):
                    break
                if same(call):
                    del pending[i]
                    self.from_tape += 1
                    self._drop_inside(call)
                    return call
            recorded, requested = describe(head)
            reason = (
                f"the recording has no further {kind} call"
                if head is None
                else "the re-run asked something else than the recording"
            )
            divergence = Divergence(
                kind=kind,
                reason=reason,
                span_id=head.span_id if head else None,
                name=head.name if head else None,
                position=head.position if head else None,
                recorded=tuple(recorded),
                requested=tuple(requested),
            )
            self.divergences.append(divergence)
            if self.on_divergence == "live" and runs_live:
                self.gone_live = True
                return None
            self.stopped = True
            raise ReplayDivergence(divergence)

    def _drop_inside(self, answered: RecordedCall) -> None:
        """Calls recorded inside one answered from the tape (a model call in a tool's
        body) are never made again: they leave the pending calls."""
        for kind, pending in self._pending.items():
            if any(answered.span_id in call.inside for call in pending):
                self._pending[kind] = [c for c in pending if answered.span_id not in c.inside]

    def _skip(self, kind: str, same: Callable[[RecordedCall], bool]) -> None:
        """A call that runs for real still takes its recorded place, when it has one."""
        with self._lock:
            pending = self._pending[kind]
            for i, call in enumerate(pending):
                if same(call):
                    del pending[i]
                    return

    # -- the hooks (see `_compat.Hooks`) -------------------------------------------------
    def model(self, model: Any, messages: list[Any]) -> Any | None:
        """A recorded `ChatResult` for this request, or None to call the model."""
        if self._live_kind(kinds.LLM):
            self._live()
            return None
        attrs = _live_attributes(kinds.LLM)
        digests = self.keys.digests(messages)
        asked_params = self.keys.canonical(attrs, semconv.INVOCATION_PARAMS)
        asked_tools = self.keys.canonical(attrs, semconv.TOOL_DEFINITIONS)

        def same_messages(call: RecordedCall) -> bool:
            if len(messages) != len(call.inputs):
                return False
            # A message stored as the very payload recorded there is the same; the
            # others (a new id LangGraph gave the user's input) compare by key.
            return all(
                (digests is not None and digests[i] == had)
                or self.keys.live(message) == self.keys.recorded_message(had)
                for i, (message, had) in enumerate(zip(messages, call.inputs, strict=True))
            )

        def same(call: RecordedCall) -> bool:
            had_params, had_tools = self.keys.config(call)
            # Params and tools compare when both sides kept them whole.
            return (
                (asked_params is None or had_params is None or asked_params == had_params)
                and (asked_tools is None or had_tools is None or asked_tools == had_tools)
                and same_messages(call)
            )

        def describe(call: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked = [requests.live_message(m) for m in messages]
            params = json_attr(attrs, semconv.INVOCATION_PARAMS, live=True)
            tools = json_attr(attrs, semconv.TOOL_DEFINITIONS, live=True)
            asked_lines = requests.request_lines(asked, params, tools)
            if call is None:
                return [], asked_lines
            had = self.recording.payloads(call.inputs)
            had_params = json_attr(call.attributes, semconv.INVOCATION_PARAMS)
            had_tools = json_attr(call.attributes, semconv.TOOL_DEFINITIONS)
            return requests.request_lines(had, had_params, had_tools), asked_lines

        call = self._take(kinds.LLM, same, describe, runs_live=True)
        if call is None:
            self._live()
            return None
        _raise_if_failed(call)
        from langchain_core.outputs import ChatGeneration, ChatResult

        message = self.recording.answer(call.outputs[0])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def completion(self, llm: Any, prompt: str) -> list[str] | None:
        """The recorded texts a completion model (``BaseLLM``) gave for ``prompt``, or
        None to call it."""
        if self._live_kind(kinds.LLM):
            self._live()
            return None
        attrs = _live_attributes(kinds.LLM)
        key = (content_hash(dumps(to_jsonable([prompt]))),)
        asked_params = self.keys.canonical(attrs, semconv.INVOCATION_PARAMS)

        def same(call: RecordedCall) -> bool:
            had_params = self.keys.config(call)[0] if call.inputs == key else None
            return call.inputs == key and (
                asked_params is None or had_params is None or asked_params == had_params
            )

        def describe(call: RecordedCall | None) -> tuple[list[str], list[str]]:
            params = json_attr(attrs, semconv.INVOCATION_PARAMS, live=True)
            asked = requests.prompt_lines([prompt], params)
            if call is None:
                return [], asked
            had = self.recording.payloads(call.inputs)
            had_params = json_attr(call.attributes, semconv.INVOCATION_PARAMS)
            if len(had) == 1 and isinstance(had[0], list):  # a completion model's prompts
                return requests.prompt_lines(had[0], had_params), asked  # pyright: ignore[reportUnknownArgumentType]
            return requests.request_lines(had, had_params), asked  # a chat model's messages

        call = self._take(kinds.LLM, same, describe, runs_live=True)
        if call is None:
            self._live()
            return None
        _raise_if_failed(call)
        texts = self.recording.answer(call.outputs[0])
        return [str(t) for t in texts] if isinstance(texts, list) else [str(texts)]  # pyright: ignore[reportUnknownVariableType]

    def chat_completion(self, kwargs: Mapping[str, Any]) -> Any | None:
        """The recorded ``chat.completion`` body for a raw ``openai`` SDK request, or
        None to send it."""
        if self._live_kind(kinds.LLM):
            self._live()
            return None
        key = openai_sdk.request_key(kwargs)

        def same(call: RecordedCall) -> bool:
            return openai_sdk.is_sdk_call(call.attributes) and (
                openai_sdk.recorded_key(call.attributes, call.inputs) == key
            )

        def describe(call: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked = requests.request_lines(*openai_sdk.asked(kwargs))
            if call is None:
                return [], asked
            had = self.recording.payloads(call.inputs)
            had_params = json_attr(call.attributes, semconv.INVOCATION_PARAMS)
            had_tools = json_attr(call.attributes, semconv.TOOL_DEFINITIONS)
            return requests.request_lines(had, had_params, had_tools), asked

        call = self._take(kinds.LLM, same, describe, runs_live=True)
        if call is None:
            self._live()
            return None
        return _sdk_failure(call) or self.recording.answer(call.outputs[0])

    def tool(self, tool: Any) -> tuple[Any] | None:
        """The recorded result of this tool call (a 1-tuple), or None to run it."""
        name = str(getattr(tool, "name", ""))
        self.called_tools.add(name)
        attrs = _live_attributes(kinds.TOOL)
        asked_hashes = requests.canonical(json_value(attrs.get(semconv.REPLAY_INPUT) or "null"))
        arguments = str(attrs.get(semconv.TOOL_CALL_ARGUMENTS, ""))

        def same(call: RecordedCall) -> bool:
            if call.attributes.get(semconv.TOOL_NAME, call.name) != name:
                return False
            return not attrs or requests.canonical(list(call.inputs)) == asked_hashes

        if kinds.TOOL in self.live or name in self.live:
            self._skip(kinds.TOOL, same)
            self._live()
            return None

        def describe(call: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked = [f"{name}({arguments})"]
            if call is None:
                return [], asked
            had = requests.canonical(self.recording.payloads(call.inputs)[:1] or [None])
            return [f"{call.attributes.get(semconv.TOOL_NAME, call.name)}({had[1:-1]})"], asked

        call = self._take(kinds.TOOL, same, describe, runs_live=False)
        if call is None:  # pragma: no cover - tools never go live unnamed
            return None
        _raise_if_failed(call)
        return (_tool_result(tool, self.recording.answer(call.outputs[0])),)

    def retriever(self, retriever: Any) -> tuple[Any] | None:
        """The recorded documents for this query (a 1-tuple), or None to retrieve."""
        if self._live_kind(kinds.RETRIEVER):
            self._live()
            return None
        attrs = _live_attributes(kinds.RETRIEVER)
        query = json_attr(attrs, semconv.RETRIEVAL_QUERY, live=True)

        def same(call: RecordedCall) -> bool:
            return not attrs or json_attr(call.attributes, semconv.RETRIEVAL_QUERY) == query

        def describe(call: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked = [f"query: {query}"]
            if call is None:
                return [], asked
            return [f"query: {call.attributes.get(semconv.RETRIEVAL_QUERY)}"], asked

        call = self._take(kinds.RETRIEVER, same, describe, runs_live=True)
        if call is None:
            self._live()
            return None
        _raise_if_failed(call)
        return (self.recording.answer(call.outputs[0]),)

    def _embedding_call(self, method: str, asked: str, shown: str) -> RecordedCall | None:
        """The recorded embedding call (by ``method``, its stored request's hash
        ``asked``) this one replays, with its answer or its error; None to run it."""

        def same(call: RecordedCall) -> bool:
            # A request too long to keep left only the call's place: matched by position.
            recorded = call.attributes.get(semconv.EMBEDDING_METHOD, method)
            return recorded == method and call.inputs[:1] in ((asked,), ())

        # A recording without any (a trace recorded before embedding calls were kept):
        # they run for real, as they did then, instead of diverging.
        if self._live_kind(kinds.EMBEDDING) or not self._embedded:
            self._skip(kinds.EMBEDDING, same)
            self._live()
            return None

        def describe(call: RecordedCall | None) -> tuple[list[str], list[str]]:
            if call is None:
                return [], [shown]
            had = self.recording.payloads(call.inputs[:1]) or ["(too long to keep)"]
            recorded = call.attributes.get(semconv.EMBEDDING_METHOD, "?")
            return [f"{recorded}({_short(dumps(had[0]))})"], [shown]

        call = self._take(kinds.EMBEDDING, same, describe, runs_live=True)
        if call is None:
            self._live()
            return None
        if not call.outputs and call.error is None:  # the answer was not kept: run again
            self._instead_live()
            return None
        return call

    def embedding(self, embeddings: Any, method: str, texts: Any) -> tuple[Any] | None:
        """The recorded vectors for these texts (a 1-tuple), or None to embed them."""
        from tracetape.capture.langchain.embeddings import texts_json

        text = texts_json(texts)
        shown = f"{method}({_short(dumps(to_jsonable(texts)))})"
        call = self._embedding_call(method, content_hash(text), shown)
        if call is None:
            return None
        _raise_if_failed(call)
        return (vectors.unpack(self.recording.payload(call.outputs[0])),)

    def sdk_embedding(self, kwargs: Mapping[str, Any]) -> Any | None:
        """The recorded ``/embeddings`` response body for a raw ``openai`` SDK request
        (or its recorded HTTP error, a `Failure`), or None to send it."""
        from tracetape.capture.openai.embeddings import request_text, response_body

        text = request_text(kwargs)
        shown = f"{semconv.SDK_EMBEDDING_METHOD}({_short(text)})"
        call = self._embedding_call(semconv.SDK_EMBEDDING_METHOD, content_hash(text), shown)
        if call is None:
            return None
        return _sdk_failure(call) or response_body(self.recording.payload(call.outputs[0]))

    def _ran_live(self, call: RecordedCall) -> bool:
        """Whether this recorded call would have run for real, had the re-run made it."""
        if call.kind == kinds.TOOL:
            return kinds.TOOL in self.live or call_name(call) in self.live
        return self._live_kind(call.kind)

    def finish(self) -> None:
        """At the end of the run: the recorded calls the re-run never made.

        Each kind with such calls adds one `Divergence` (naming the first, the reason all
        of them); a call that would have run for real (its kind or tool name in ``live``,
        or the model and retrievers after going live) is not counted. They raise
        `ReplayDivergence` only under ``on_divergence="stop"`` with the model pinned
        (``"llm"`` not in ``live``): every answer then came from the tape, so a run that
        ended early means the app changed. With the model live the re-run was free to
        take another path: the calls it left out are only listed. A ``live`` name that
        neither the recording nor the re-run used is logged (a typo would otherwise leave
        that tool answered from the tape, silently).
        """
        unused = self.live - set(REPLAYED_KINDS) - self.recording.tool_names() - self.called_tools
        if unused:
            logger.warning(
                "tracetape: live= named %s, which is neither a kind (llm, tool, retriever, "
                "embedding) nor a tool the recording or the re-run called",
                ", ".join(map(repr, sorted(unused))),
            )
        found: list[Divergence] = []
        for kind, pending in self._pending.items():
            unmade = [call for call in pending if not self._ran_live(call)]
            if not unmade:
                continue
            head = unmade[0]
            names = ", ".join(call_name(call) for call in unmade[:_NAMED])
            more = ", …" if len(unmade) > _NAMED else ""
            found.append(
                Divergence(
                    kind=kind,
                    reason=f"the re-run ended without making {len(unmade)} recorded {kind} "
                    f"call(s): {names}{more}",
                    span_id=head.span_id,
                    name=head.name,
                    position=head.position,
                )
            )
        self.divergences.extend(found)
        if found and self.on_divergence == "stop" and kinds.LLM not in self.live:
            self.stopped = True
            raise ReplayDivergence(found[0])


_NAMED = 5
"""How many unmade calls a divergence's reason names."""
logger = logging.getLogger("tracetape")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _sdk_failure(call: RecordedCall) -> openai_sdk.Failure | None:
    """A raw SDK call's recorded HTTP error, played back as the SDK's own; any other
    recorded failure raised again; None when it succeeded."""
    if call.error is not None and not call.outputs:
        failure = openai_sdk.Failure.of(call.attributes, call.error[1])
        if failure is not None:
            return failure
    _raise_if_failed(call)
    return None


def _raise_if_failed(call: RecordedCall) -> None:
    """A recorded call that raised raises again (the same type where it can be rebuilt)."""
    if call.error is not None and not call.outputs:
        raise recorded_error(*call.error)


def _tool_result(tool: Any, answer: Any) -> Any:
    """What the tool's body returned, rebuilt from what its run recorded: a ToolMessage's
    content (and artifact), or the value itself."""
    if getattr(answer, "type", None) != "tool" or not hasattr(answer, "content"):
        return answer
    if getattr(tool, "response_format", None) == "content_and_artifact":
        return (answer.content, getattr(answer, "artifact", None))
    return answer.content
