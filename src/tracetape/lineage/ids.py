"""What an id names, from its form alone: trace, span, run, environment or artifact.

Trace ids are 32 hex characters and span ids 16 (OpenTelemetry's), run ids start
``run-``, environment ids ``env-`` and artifact ids ``sha256:``. Any other run of hex
characters is taken as the prefix of a trace id (as ``tracetape show`` does).
"""

from __future__ import annotations

import re
from typing import Literal

NodeKind = Literal["span", "trace", "run", "artifact", "environment"]
NODE_KINDS: tuple[NodeKind, ...] = ("span", "trace", "run", "artifact", "environment")

_HEX = re.compile("[0-9a-f]+")
TRACE_ID_CHARS = 32
SPAN_ID_CHARS = 16


def classify(node_id: str) -> tuple[NodeKind, str] | tuple[Literal["trace-prefix"], str]:
    """(kind, normalised id) of ``node_id``; ``("trace-prefix", p)`` for a short hex id.

    Raises `ValueError` for text that is none of these.

    Example:
        >>> classify("run-1f0c4e...")[0], classify("00f067aa0ba902b7")[0]
        ('run', 'span')
    """
    text = node_id.strip()
    if text.startswith("run-"):
        return "run", text
    if text.startswith("env-"):
        return "environment", text
    if text.startswith("sha256:"):
        return "artifact", text.lower()
    lowered = text.lower()
    if _HEX.fullmatch(lowered):
        if len(lowered) == TRACE_ID_CHARS:
            return "trace", lowered
        if len(lowered) == SPAN_ID_CHARS:
            return "span", lowered
        if len(lowered) < TRACE_ID_CHARS:
            return "trace-prefix", lowered
    raise ValueError(
        f"{node_id!r} is no tracetape id: a trace (32 hex characters), a span (16), a run "
        "('run-...'), an environment ('env-...') or an artifact ('sha256:...')"
    )
