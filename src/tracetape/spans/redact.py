"""Secret redaction, always on, applied before anything is written.

Three rules, cheapest first:

1. a mapping key named like a secret (``api_key``, ``*_KEY``, ``*_TOKEN``, ``*_SECRET``,
   ``password``, ``authorization``, ...) has its value replaced whole;
2. strings are scanned for the shapes of common credentials (OpenAI/Anthropic/Google/AWS/
   GitHub/Slack/Hugging Face keys, bearer tokens, JWTs, URL passwords);
3. the literal values of this process's environment variables named like a secret are
   replaced wherever they appear, whatever their shape.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Final

REDACTED: Final = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(?i)(^|[_\-.])(api[_\-]?key|apikey|secret|token|password|passwd|pwd|"
    r"authorization|auth[_\-]?header|credentials?|private[_\-]?key|access[_\-]?key|"
    r"session[_\-]?key|client[_\-]?secret|cookie)s?$"
)
_SECRET_KEY_ANYWHERE = re.compile(r"(?i)(api[_\-]?key|secret|password|passwd|token$|_key$)")
# Names that look secret but hold counts, not credentials.
_NOT_SECRET: Final = frozenset(
    {
        "max_tokens",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "max_completion_tokens",
        "reasoning_tokens",
        "cached_tokens",
        "tokens",
        "token_usage",
        "max_new_tokens",
        "num_tokens",
    }
)

_PATTERNS: Final = re.compile(
    "|".join(
        (
            r"sk-ant-[A-Za-z0-9_\-]{16,}",
            r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}",
            r"AKIA[0-9A-Z]{16}",
            r"ASIA[0-9A-Z]{16}",
            r"AIza[0-9A-Za-z_\-]{35}",
            r"gh[pousr]_[A-Za-z0-9]{30,}",
            r"github_pat_[A-Za-z0-9_]{30,}",
            r"xox[abprs]-[A-Za-z0-9\-]{10,}",
            r"hf_[A-Za-z0-9]{30,}",
            r"glpat-[A-Za-z0-9_\-]{20,}",
            r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{12,}",
            r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
            r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
        )
    )
)

_env_lock = threading.Lock()
_env_values: re.Pattern[str] | None = None
_env_snapshot: int = -1


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (its value is replaced whole)."""
    lowered = key.lower()
    if lowered in _NOT_SECRET or lowered.endswith(("_tokens", "_token_count")):
        return False
    return bool(_SECRET_KEY.search(key) or _SECRET_KEY_ANYWHERE.search(key))


def _env_pattern() -> re.Pattern[str] | None:
    """A pattern matching the values of secret-named environment variables (cached)."""
    global _env_values, _env_snapshot
    marker = len(os.environ)
    if marker == _env_snapshot:
        return _env_values
    with _env_lock:
        values = sorted(
            {
                value
                for name, value in os.environ.items()
                if len(value) >= 8 and is_secret_key(name)
            },
            key=len,
            reverse=True,
        )
        _env_values = re.compile("|".join(re.escape(v) for v in values)) if values else None
        _env_snapshot = marker
        return _env_values


def refresh_environment() -> None:
    """Forget the cached environment secrets (after the user changes ``os.environ``)."""
    global _env_snapshot
    with _env_lock:
        _env_snapshot = -1


def redact_text(text: str) -> str:
    """Replace every credential-shaped substring and known secret value in ``text``."""
    if len(text) < 8:
        return text
    out = _PATTERNS.sub(REDACTED, text)
    env = _env_pattern()
    if env is not None:
        out = env.sub(REDACTED, out)
    return out
