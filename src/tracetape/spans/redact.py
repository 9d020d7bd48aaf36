"""Secret redaction, always on, applied before anything is written.

Three rules, cheapest first:

1. a mapping key named like a secret (``api_key``, ``*_KEY``, ``*_TOKEN``, ``*_SECRET``,
   ``password``, ``authorization``, ...) has its value replaced whole;
2. strings are scanned for the shapes of common credentials (OpenAI/Anthropic/Google/AWS/
   GitHub/Slack/Hugging Face/Groq/xAI/LangSmith/Stripe/... keys, bearer tokens, JWTs,
   private-key blocks, URL passwords) and for ``name=value`` / ``"name": "value"`` pairs
   whose name is a secret's (only the value is replaced);
3. the literal values of this process's environment variables named like a secret are
   replaced wherever they appear, whatever their shape.

Example:
    >>> redact_text("call with Authorization: Bearer abcdefghijklmnop")
    'call with Authorization: [REDACTED]'
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Final

REDACTED: Final = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"(?i)(^|[_\-.])(api[_\-]?key|apikey|secret|token|password|passwd|passphrase|pwd|"
    r"authorization|auth[_\-]?header|credentials?|private[_\-]?key|access[_\-]?key|"
    r"session[_\-]?key|account[_\-]?key|shared[_\-]?access[_\-]?key|client[_\-]?secret|cookie)s?$"
)
_SECRET_KEY_ANYWHERE = re.compile(r"(?i)(api[_\-]?key|secret|password|passwd|token$|_key$)")
# Names that look secret but hold counts or identifiers, not credentials.
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
        "sort_key",
        "primary_key",
        "foreign_key",
        "partition_key",
        "cache_key",
        "hash_key",
        "range_key",
        "row_key",
        "group_key",
        "dedup_key",
        "public_key",
        "idempotency_key",
    }
)

_NOT_WORD = r"(?<![A-Za-z0-9])"
_CREDENTIAL_SHAPES: Final = (
    r"sk-ant-[A-Za-z0-9_\-]{16,}",
    # OpenAI-style keys (also DeepSeek, Moonshot, ...): require a digit, so that prose
    # such as "sk-learn-compatible" is left alone.
    r"sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{16,}",
    r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",
    r"AIza[0-9A-Za-z_\-]{35}",
    r"gh[pousr]_[A-Za-z0-9]{30,}",
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"xox[abprse]-[A-Za-z0-9\-]{10,}",
    r"hf_[A-Za-z0-9]{30,}",
    r"glpat-[A-Za-z0-9_\-]{20,}",
    r"gsk_[A-Za-z0-9]{20,}",
    r"xai-[A-Za-z0-9]{20,}",
    r"pplx-[A-Za-z0-9]{20,}",
    r"r8_[A-Za-z0-9]{20,}",
    r"tvly-[A-Za-z0-9\-]{20,}",
    r"pcsk_[A-Za-z0-9_]{20,}",
    r"lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}",
    r"npm_[A-Za-z0-9]{30,}",
)
_PATTERNS: Final = re.compile(
    "|".join(
        (
            *(_NOT_WORD + shape for shape in _CREDENTIAL_SHAPES),
            r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{12,}",
            r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
            # name=value, name: value, "name": "value" where the name is a secret's.
            r"(?P<name>(?i:[A-Za-z0-9_\-]*(?:api[_\-]?key|apikey|secret|password|passwd|"
            r"passphrase|token|access[_\-]?key|account[_\-]?key|shared[_\-]?access[_\-]?key)))"
            r"(?P<sep>[\"']?[ \t]*[:=][ \t]*)"
            r"(?:\"(?P<dq>[^\"\n]{1,256})\"|'(?P<sq>[^'\n]{1,256})'|(?P<value>[^\s\"'&,;<>]{6,}))",
        )
    )
)

_env_lock = threading.Lock()
_env_values: re.Pattern[str] | None = None
_env_snapshot: int = -1
_env_checked = 0.0
_ENV_RECHECK_SECONDS: Final = 2.0


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (its value is replaced whole)."""
    lowered = key.lower()
    if lowered in _NOT_SECRET or lowered.endswith(("_tokens", "_token_count")):
        return False
    return bool(_SECRET_KEY.search(key) or _SECRET_KEY_ANYWHERE.search(key))


def _worth_redacting(value: str) -> bool:
    """Whether an environment value is specific enough to hunt for in recorded text.

    Short values and plain words (``production``, ``enabled``) would blank out ordinary
    text; credentials are long or mix letters with digits and punctuation.
    """
    return len(value) >= 8 and (len(value) >= 16 or not value.isalpha())


def _env_pattern() -> re.Pattern[str] | None:
    """A pattern matching the values of secret-named environment variables (cached).

    Rebuilt when the number of variables changes, and at most every couple of seconds
    otherwise (a value replaced in place); `refresh_environment` forces it.
    """
    global _env_values, _env_snapshot, _env_checked
    marker = len(os.environ)
    now = time.monotonic()
    if marker == _env_snapshot and now - _env_checked < _ENV_RECHECK_SECONDS:
        return _env_values
    with _env_lock:
        values = sorted(
            {
                value
                for name, value in os.environ.items()
                if _worth_redacting(value) and is_secret_key(name)
            },
            key=len,
            reverse=True,
        )
        _env_values = re.compile("|".join(re.escape(v) for v in values)) if values else None
        _env_snapshot = marker
        _env_checked = now
        return _env_values


def refresh_environment() -> None:
    """Forget the cached environment secrets (after the user changes ``os.environ``)."""
    global _env_snapshot
    with _env_lock:
        _env_snapshot = -1


def _replace(match: re.Match[str]) -> str:
    name = match.group("name")
    if name is None:
        return REDACTED
    secret = is_secret_key(name)
    for group, quote in (("dq", '"'), ("sq", "'"), ("value", "")):
        value = match.group(group)
        if value is not None:
            shown = REDACTED if secret else redact_text(value)
            return f"{name}{match.group('sep')}{quote}{shown}{quote}"
    return match.group(0)


def redact_text(text: str) -> str:
    """Replace every credential-shaped substring and known secret value in ``text``."""
    if len(text) < 8:
        return text
    out = _PATTERNS.sub(_replace, text)
    env = _env_pattern()
    if env is not None:
        out = env.sub(REDACTED, out)
    return out
