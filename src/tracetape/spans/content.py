"""Whole payloads for replay, stored once per distinct content hash.

Capture hands each payload (a serialised message, a tool result, a document list) to
`ContentStore.put`, which returns its hash. The first span of this process that carries a
payload also carries its text in the ``tracetape.blobs`` attribute; later spans carry
only the hash. So a conversation of N turns costs O(N) payload bytes, not O(N²).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from tracetape.spans.encode import content_hash

_MAX_REMEMBERED = 200_000


class ContentStore:
    """Remembers which payload hashes this process has already sent with a span."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, text: str, pending: dict[str, str]) -> str | None:
        """Hash ``text``; add it to ``pending`` unless already sent. None if too large."""
        if len(text) > self.max_bytes:
            return None
        digest = content_hash(text)
        with self._lock:
            if digest in self._sent:
                self._sent.move_to_end(digest)
                return digest
        pending[digest] = text
        return digest

    def mark_sent(self, hashes: list[str]) -> None:
        """Record that a span carrying these payloads has been ended (handed to export)."""
        with self._lock:
            for digest in hashes:
                self._sent[digest] = None
            while len(self._sent) > _MAX_REMEMBERED:
                self._sent.popitem(last=False)

    def forget(self) -> None:
        """Forget everything sent (a forked child starts afresh)."""
        with self._lock:
            self._sent.clear()
