"""Whole payloads for replay, stored once per distinct content hash.

Capture hands each payload (a serialised message, a tool result, a document list) to
`ContentStore.put`, which returns its hash. The first span of this process that carries a
payload also carries its text in the ``tracetape.blobs`` attribute; later spans carry
only the hash. So a conversation of N turns costs O(N) payload bytes, not O(N²).

Memory stays bounded in a long-lived process: the store remembers at most
``max_remembered`` hashes (least recently used go first; a forgotten payload is only
sent once more, and folding keeps one copy per hash) and never holds payload text.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict

from tracetape.spans.encode import content_hash

_MAX_REMEMBERED = 200_000


class ContentStore:
    """Remembers which payload hashes this process has already sent with a span."""

    def __init__(self, max_bytes: int, max_remembered: int = _MAX_REMEMBERED) -> None:
        self.max_bytes = max_bytes
        self.max_remembered = max_remembered
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        _stores.add(self)

    def __len__(self) -> int:
        return len(self._sent)

    def put(self, text: str, pending: dict[str, str], digest: str | None = None) -> str | None:
        """Hash ``text``; add it to ``pending`` unless already sent. None if too large.

        ``digest``: ``text``'s `content_hash`, when the caller has it already (a message
        sent again with every model call is hashed once, not once per call).
        """
        if len(text) > self.max_bytes:
            return None
        if digest is None:
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
            while len(self._sent) > self.max_remembered:
                self._sent.popitem(last=False)

    def forget(self) -> None:
        """Forget everything sent (a forked child starts afresh)."""
        with self._lock:
            self._sent.clear()


_stores: weakref.WeakSet[ContentStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # Another thread may have held a store's lock at fork(); the child gets fresh ones.
    # What the parent sent stays remembered: the parent writes those spans.
    for store in list(_stores):
        store._lock = threading.Lock()  # pyright: ignore[reportPrivateUsage]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
