"""Every ``TRACETAPE_*`` environment variable, its default and its limit.

Read once per `Settings.from_env()` call; `tracetape.open()` takes explicit arguments
that win over the environment.

Variables (default in brackets):

- ``TRACETAPE_PATH`` [./.tracetape/tape.duckdb]: the tape `open()` uses without a path.
- ``TRACETAPE_STRICT`` [0]: 1 re-raises tracetape's internal errors (tests turn it on).
- ``TRACETAPE_CAPTURE_CONTENT`` [1]: 0 records no message, tool or document content,
  only metadata and metrics.
- ``TRACETAPE_MAX_DISPLAY_CHARS`` [16384]: longest JSON kept for one displayed input,
  output or attribute (a cut value says so).
- ``TRACETAPE_MAX_BLOB_BYTES`` [16 MiB]: longest payload kept whole for replay; a larger
  one marks its span not replayable.
- ``TRACETAPE_QUEUE_SPANS`` [8192]: spans held in memory before the thread that ends a
  span writes the queue to disk itself.
- ``TRACETAPE_BATCH_SPANS`` [2048]: spans per spool segment.
- ``TRACETAPE_FLUSH_INTERVAL`` [0.5]: seconds between background writes.
- ``TRACETAPE_LOCK_TIMEOUT`` [30]: seconds a reader waits for a tape another process holds.
- ``TRACETAPE_OTLP`` [0]: 1 also exports every span over OTLP/HTTP (endpoint and headers
  from the standard ``OTEL_EXPORTER_OTLP_*`` variables).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_PATH = Path(".tracetape") / "tape.duckdb"


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = default
    return max(value, minimum)


def _float(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = default
    return max(value, minimum)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one tape."""

    path: Path = DEFAULT_PATH
    strict: bool = False
    capture_content: bool = True
    max_display_chars: int = 16_384
    max_blob_bytes: int = 16 * 1024 * 1024
    queue_spans: int = 8192
    batch_spans: int = 2048
    flush_interval: float = 0.5
    lock_timeout: float = 30.0
    otlp: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        """Read every ``TRACETAPE_*`` variable, falling back to the defaults above."""
        return cls(
            path=Path(os.environ.get("TRACETAPE_PATH") or DEFAULT_PATH),
            strict=_flag("TRACETAPE_STRICT", False),
            capture_content=_flag("TRACETAPE_CAPTURE_CONTENT", True),
            max_display_chars=_int("TRACETAPE_MAX_DISPLAY_CHARS", 16_384, 256),
            max_blob_bytes=_int("TRACETAPE_MAX_BLOB_BYTES", 16 * 1024 * 1024, 1024),
            queue_spans=_int("TRACETAPE_QUEUE_SPANS", 8192, 16),
            batch_spans=_int("TRACETAPE_BATCH_SPANS", 2048, 1),
            flush_interval=_float("TRACETAPE_FLUSH_INTERVAL", 0.5, 0.01),
            lock_timeout=_float("TRACETAPE_LOCK_TIMEOUT", 30.0, 0.0),
            otlp=_flag("TRACETAPE_OTLP", False),
        )

    def with_path(self, path: Path) -> Settings:
        """A copy of these settings recording into ``path``."""
        return replace(self, path=path)
