"""How a re-run's requests and the recording's are keyed to be matched, each once.

A conversation sends its whole history on every model call, and a bound model the same
params and tools. So each message object, each stored payload text and each attribute
text is keyed once per replay; what is derived from the recording alone (its payloads'
keys, each recorded call's params and tools) is kept with it (`Recording.memo`) for the
next replay of the same trace. A live message stored as a recorded payload (the same content hash)
shares that payload's key: one stored text, one key. And a request whose messages are
stored as exactly the recorded call's payloads (the same hashes, in order) is that
call's request without keying any: the usual case of an unchanged replay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tracetape.replay import requests
from tracetape.replay.recording import RecordedCall, Recording, json_value
from tracetape.spans import semconv


@dataclass(frozen=True)
class Encoder:
    """Capture's own encoding of live messages (cached there)."""

    encode: Callable[[Any], tuple[str, str]]
    """A message's stored form (JSON text) and its content hash."""
    digests: Callable[[list[Any]], tuple[str, ...] | None]
    """The content hashes of a list of messages (None: not all are messages)."""


CallConfig = tuple[str | None, str | None]
"""A model call's params and tools as canonical JSON (None where not kept whole)."""


def json_attr(attrs: Mapping[str, Any], key: str, live: bool = False) -> Any:
    """A JSON attribute's value; None when absent or cut for display (not comparable)."""
    truncated = attrs.get(semconv.TRUNCATED) or ()
    value = attrs.get(key)
    if value is None or key in truncated:
        return None
    # A live span holds JSON text; the ``spans`` view gives it back parsed.
    return json_value(value) if live else value


class RequestKeys:
    """The keys of one replay's live and recorded requests (see the module)."""

    def __init__(self, recording: Recording, encoder: Encoder | None) -> None:
        """``encoder``: capture's own, cached encoding of live messages; without it a
        message is serialised again here."""
        self.recording = recording
        self._encoder = encoder
        # The object is held with its key, so its id stays unique while it is.
        self._live: dict[int, tuple[Any, str]] = {}
        self._stored: dict[str, str] = recording.memo.setdefault("message_keys", {})
        self._configs: dict[str, CallConfig] = recording.memo.setdefault("call_configs", {})
        self._canonical: dict[str, str] = {}

    def digests(self, messages: list[Any]) -> tuple[str, ...] | None:
        """The content hashes the messages are stored under (capture's encoding, cached
        there); None without it."""
        if self._encoder is None:
            return None
        found = self._encoder.digests(messages)
        if found is not None:
            return found
        return tuple(self._encoder.encode(m)[1] for m in messages)

    def live(self, message: Any) -> str:
        """The key of a message the re-run sends."""
        hit = self._live.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        if self._encoder is not None:
            text, digest = self._encoder.encode(message)
            key = self.stored(digest, lambda: json_value(text))
        else:
            key = requests.message_key(requests.live_message(message))
        self._live[id(message)] = (message, key)
        return key

    def stored(self, digest: str, stored: Callable[[], Any]) -> str:
        """The key of the message stored as payload ``digest`` (``stored`` gives its
        JSON value when it is not known yet)."""
        key = self._stored.get(digest)
        if key is None:
            key = requests.message_key(stored())
            if digest in self.recording.blobs:
                self._stored[digest] = key
        return key

    def canonical(self, attrs: Mapping[str, Any], key: str) -> str | None:
        """A live span's JSON attribute as canonical JSON (None when absent or cut)."""
        text = attrs.get(key)
        if not isinstance(text, str) or key in (attrs.get(semconv.TRUNCATED) or ()):
            return None
        found = self._canonical.get(text)
        if found is None:
            found = self._canonical[text] = requests.canonical(json_value(text))
        return found

    def recorded_message(self, digest: str) -> str:
        """The key of the recorded message stored as payload ``digest``."""
        return self.stored(digest, lambda: self.recording.payload(digest))

    def config(self, call: RecordedCall) -> CallConfig:
        """A recorded model call's params and tools as canonical JSON."""
        hit = self._configs.get(call.span_id)
        if hit is None:
            params = json_attr(call.attributes, semconv.INVOCATION_PARAMS)
            tools = json_attr(call.attributes, semconv.TOOL_DEFINITIONS)
            hit = self._configs[call.span_id] = (
                None if params is None else requests.canonical(params),
                None if tools is None else requests.canonical(tools),
            )
        return hit
