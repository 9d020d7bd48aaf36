"""`LlamaIndexPlayer`: answers a LlamaIndex re-run's model, retriever and tool calls
from a recording.

The same matching as `tracetape.replay.player.Player` (which it extends): a call is
answered by the recorded call of its kind that comes next and asked exactly the same
(see `calls`); the first that asks something else is a `Divergence`, after which replay
stops or, with ``on_divergence="live"``, lets the model and retrievers run for real.
``live=("llm",)`` or ``("retriever",)`` runs that kind for real from the start; a tool
runs for real only when named in ``live`` (by name or as ``"tool"``).
"""

from __future__ import annotations

import copy
from typing import Any

from tracetape.replay.llamaindex import calls, payloads
from tracetape.replay.llamaindex._compat import ModelCall
from tracetape.replay.player import OnDivergence, Player
from tracetape.replay.recording import RecordedCall, Recording
from tracetape.replay.requests import canonical
from tracetape.replay.result import recorded_error
from tracetape.spans import kinds, semconv
from tracetape.spans.recorder import Recorder

REPLAY_FORMAT = "llamaindex.llm"
"""``tracetape.replay.format`` of a model call LlamaIndex capture recorded."""


def _is_chat(call: RecordedCall) -> bool:
    return call.attributes.get(semconv.OPERATION_NAME) != "text_completion"


def _raise_if_failed(call: RecordedCall) -> None:
    """A recorded call that raised raises again (the same type where it can be rebuilt)."""
    if call.error is not None and not call.outputs:
        raise recorded_error(*call.error)


class LlamaIndexPlayer(Player):
    """Answers LlamaIndex calls from ``recording`` while installed (`_compat.active`)."""

    def __init__(
        self,
        recording: Recording,
        recorder: Recorder,
        live: Any = (),
        on_divergence: OnDivergence = "stop",
    ) -> None:
        super().__init__(recording, live, on_divergence)
        self.recorder = recorder
        # Revived now, in the caller's thread; each answer is a fresh copy.
        self._answers: dict[str, Any] = {}
        # A LangChain embedding inside a LlamaIndex app (a node postprocessor's) is not
        # answered here: it runs for real, as before embedding calls were kept.
        self._pending[kinds.EMBEDDING] = []
        self._embedded = False
        for call in recording.calls:
            if call.kind == kinds.EMBEDDING:
                continue
            for digest in call.outputs[:1]:
                value = recording.payload(digest)
                if call.kind == kinds.LLM:
                    self._answers[digest] = payloads.model_response(value, _is_chat(call))
                elif call.kind == kinds.RETRIEVER:
                    self._answers[digest] = payloads.nodes(value)
                else:
                    self._answers[digest] = payloads.tool_output(value, call.error)

    def _answer(self, call: RecordedCall) -> Any:
        if call.kind != kinds.TOOL:  # a failed tool call recorded its ToolOutput
            _raise_if_failed(call)
        if not call.outputs:
            raise recorded_error("RecordedCallError", f"span {call.span_id} kept no output")
        return copy.deepcopy(self._answers[call.outputs[0]])

    def answer_model(self, llm: Any, call: ModelCall) -> Any | None:
        """The recorded response to this model request, or None to call the model."""
        if self._live_kind(kinds.LLM):
            self._live()
            return None
        digest, request = calls.model_request(call)
        params = calls.model_params(llm, call, self.recorder)

        def same(recorded: RecordedCall) -> bool:
            if recorded.attributes.get(semconv.REPLAY_FORMAT) != REPLAY_FORMAT:
                return False
            if recorded.inputs[:1] != (digest,):
                return False
            had = calls.recorded_json(recorded.attributes, semconv.INVOCATION_PARAMS)
            both = params is not None and had is not None
            return not both or canonical(params) == canonical(had)

        def describe(recorded: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked = calls.model_lines(request, params)
            if recorded is None or not recorded.inputs:
                return [], asked
            had_request = self.recording.payload(recorded.inputs[0])
            had = calls.recorded_json(recorded.attributes, semconv.INVOCATION_PARAMS)
            return calls.model_lines(had_request, had), asked

        recorded = self._take(kinds.LLM, same, describe, runs_live=True)
        if recorded is None:
            self._live()
            return None
        response = self._answer(recorded)
        return payloads.as_chunk(response) if call.stream else response

    def answer_retriever(self, retriever: Any, query_bundle: Any) -> tuple[Any] | None:
        """The recorded nodes for this retrieval (a 1-tuple), or None to retrieve."""
        if self._live_kind(kinds.RETRIEVER):
            self._live()
            return None
        asked = calls.retriever_config(retriever, query_bundle, self.recorder)
        key = canonical(asked)

        def same(recorded: RecordedCall) -> bool:
            return canonical(calls.recorded_retriever_config(recorded.attributes)) == key

        def describe(recorded: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked_lines = calls.retriever_lines(asked)
            if recorded is None:
                return [], asked_lines
            had = calls.recorded_retriever_config(recorded.attributes)
            return calls.retriever_lines(had), asked_lines

        recorded = self._take(kinds.RETRIEVER, same, describe, runs_live=True)
        if recorded is None:
            self._live()
            return None
        return (self._answer(recorded),)

    def answer_tool(
        self, tool: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any] | None:
        """The recorded ``ToolOutput`` of this call (a 1-tuple), or None to run the tool:
        only when named in ``live`` (by name or as ``"tool"``), as tools may have side
        effects."""
        asked = calls.tool_call(tool, args, kwargs, self.recorder)
        self.called_tools.add(asked.name)

        def same(recorded: RecordedCall) -> bool:
            return calls.same_tool_call(calls.recorded_tool_call(recorded.attributes), asked)

        if kinds.TOOL in self.live or asked.name in self.live:
            self._skip(kinds.TOOL, same)
            self._live()
            return None

        def describe(recorded: RecordedCall | None) -> tuple[list[str], list[str]]:
            asked_lines = [asked.line()]
            if recorded is None:
                return [], asked_lines
            return [calls.recorded_tool_call(recorded.attributes).line()], asked_lines

        recorded = self._take(kinds.TOOL, same, describe, runs_live=False)
        if recorded is None:  # pragma: no cover - tools never go live unnamed
            return None
        return (self._answer(recorded),)
