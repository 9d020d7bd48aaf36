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

import functools
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

# Credential shapes, each with the literal text it starts with. A rule runs only when its
# literal occurs in the text (a C-speed substring test), and its regex starts with that
# literal, so ordinary text costs a few substring searches, not a regex per position.
_CREDENTIAL_SHAPES: Final = (
    (("sk-",), r"sk-ant-[A-Za-z0-9_\-]{16,}"),
    # OpenAI-style keys (also DeepSeek, Moonshot, ...): require a digit, so that prose
    # such as "sk-learn-compatible" is left alone.
    (("sk-",), r"sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{16,}"),
    (("_live_", "_test_"), r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    (("AKIA", "ASIA"), r"(?:AKIA|ASIA)[0-9A-Z]{16}"),
    (("AIza",), r"AIza[0-9A-Za-z_\-]{35}"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{30,}"),
    (("github_pat_",), r"github_pat_[A-Za-z0-9_]{30,}"),
    (("xox",), r"xox[abprse]-[A-Za-z0-9\-]{10,}"),
    (("hf_",), r"hf_[A-Za-z0-9]{30,}"),
    (("glpat-",), r"glpat-[A-Za-z0-9_\-]{20,}"),
    (("gsk_",), r"gsk_[A-Za-z0-9]{20,}"),
    (("xai-",), r"xai-[A-Za-z0-9]{20,}"),
    (("pplx-",), r"pplx-[A-Za-z0-9]{20,}"),
    (("r8_",), r"r8_[A-Za-z0-9]{20,}"),
    (("tvly-",), r"tvly-[A-Za-z0-9\-]{20,}"),
    (("pcsk_",), r"pcsk_[A-Za-z0-9_]{20,}"),
    (("lsv2_",), r"lsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}"),
    (("npm_",), r"npm_[A-Za-z0-9]{30,}"),
    (("eyJ",), r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
)
_HINTED: Final = tuple(
    (hint, re.compile(pattern)) for hints, pattern in _CREDENTIAL_SHAPES for hint in hints
)
_BEARER: Final = re.compile(r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{12,}")
_PRIVATE_KEY: Final = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"
)
# Quotes and backslashes end the match so that it never spans two JSON strings.
_URL_PASSWORD: Final = re.compile(r"(?<=://)[^/\s:@\"\\]+:[^/\s@\"\\]+(?=@)")
# name=value, name: value, "name": "value" where the name ends in a secret's word. The
# word is matched first (a regex cannot look back over a whole name cheaply); the rest
# of the name is read backwards from the match in `_assignment`.
_ASSIGNMENT_ENDS: Final = ("key", "secret", "password", "passwd", "passphrase", "token")
"""How every name `_ASSIGNMENT` matches ends."""
_SEPARATOR: Final = re.compile(r"[\"']?[ \t]*[:=]")
_ASSIGNMENT: Final = re.compile(
    r"(?=[AaSsPpTt])"  # a cheap first-character test before the alternation
    r"(?i:api[_\-]?key|apikey|secret|password|passwd|passphrase|token|access[_\-]?key|"
    r"account[_\-]?key|shared[_\-]?access[_\-]?key)"
    r"(?P<sep>[\"']?[ \t]*[:=][ \t]*)"
    r"(?:\"(?P<dq>[^\"\n]{1,256})\"|'(?P<sq>[^'\n]{1,256})'|(?P<value>[^\s\"'&,;<>]{6,}))"
)
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

_env_lock = threading.Lock()
_env_values: tuple[tuple[str, ...], re.Pattern[str]] | None = None
_env_snapshot: int = -1
_env_checked = 0.0
_ENV_RECHECK_SECONDS: Final = 2.0


@functools.lru_cache(maxsize=8192)
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (its value is replaced whole). Memoised:
    the same few keys recur in every payload."""
    lowered = key.lower()
    if lowered in _NOT_SECRET or lowered.endswith(("_tokens", "_token_count")):
        return False
    return bool(_SECRET_KEY.search(key) or _SECRET_KEY_ANYWHERE.search(key))


_SHELL_PATHS: Final = frozenset({"PWD", "OLDPWD"})
"""Shell variables whose names read as "password" but hold the working directory: its
path is ordinary text in tracebacks and tool output, never hunted as a secret."""


def _worth_redacting(value: str) -> bool:
    """Whether an environment value is specific enough to hunt for in recorded text.

    Short values and plain words (``production``, ``enabled``) would blank out ordinary
    text; credentials are long or mix letters with digits and punctuation.
    """
    return len(value) >= 8 and (len(value) >= 16 or not value.isalpha())


def _env_pattern() -> tuple[tuple[str, ...], re.Pattern[str]] | None:
    """The values of secret-named environment variables, and a pattern matching any
    of them (cached).

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
                if _worth_redacting(value) and is_secret_key(name) and name not in _SHELL_PATHS
            },
            key=len,
            reverse=True,
        )
        _env_values = (
            (tuple(values), re.compile("|".join(re.escape(v) for v in values))) if values else None
        )
        _env_snapshot = marker
        _env_checked = now
        return _env_values


def refresh_environment() -> None:
    """Forget the cached environment secrets (after the user changes ``os.environ``)."""
    global _env_snapshot
    with _env_lock:
        _env_snapshot = -1


def _shape(match: re.Match[str]) -> str:
    start = match.start()
    if start and match.string[start - 1].isalnum():
        return match.group(0)  # inside a longer word: not a credential's start
    return REDACTED


def _assignment(match: re.Match[str]) -> str:
    text, begin = match.string, match.start()
    while begin and text[begin - 1] in _NAME_CHARS:
        begin -= 1
    name = text[begin : match.start("sep")]
    head = text[match.start() : match.start("sep")]
    sep = match.group("sep")
    secret = is_secret_key(name)
    for group, quote in (("dq", '"'), ("sq", "'"), ("value", "")):
        value = match.group(group)
        if value is not None:
            shown = REDACTED if secret else redact_text(value)
            return f"{head}{sep}{quote}{shown}{quote}"
    return match.group(0)


def _assignment_possible(lowered: str) -> bool:
    """Whether `_ASSIGNMENT` can match: a name's last word right before a separator.

    Exact, and a few C-speed substring searches: ``"input_tokens":`` or ``max_tokens=``
    (in every model response's usage) no longer make the pattern scan the whole text,
    which costs ~20 µs a payload in Python's regex engine."""
    for word in _ASSIGNMENT_ENDS:
        at = lowered.find(word)
        while at != -1:
            end = at + len(word)
            if _SEPARATOR.match(lowered, end):
                return True
            at = lowered.find(word, end)
    return False


def redact_text(text: str) -> str:
    """Replace every credential-shaped substring and known secret value in ``text``."""
    if len(text) < 8:
        return text
    out = text
    found: list[re.Pattern[str]] = []
    for hint, pattern in _HINTED:  # a plain loop: a generator per shape costs more
        if hint in text and pattern not in found:
            found.append(pattern)
    for pattern in found:
        out = pattern.sub(_shape, out)
    if "-----BEGIN" in out:
        out = _PRIVATE_KEY.sub(REDACTED, out)
    if "://" in out and "@" in out:
        out = _URL_PASSWORD.sub(REDACTED, out)
    lowered = out.lower()
    if "\u017f" in lowered:  # the long s: the name patterns (case-insensitive) read it as "s"
        lowered = lowered.replace("\u017f", "s")
    if "bearer" in lowered:
        out = _BEARER.sub(REDACTED, out)
    # Exact: every name the pattern matches ends in a word `_assignment_possible` looks
    # for ("passphrase" too, which an earlier word test here let through).
    if ("=" in out or ":" in out) and _assignment_possible(lowered):
        out = _ASSIGNMENT.sub(_assignment, out)
    env = _env_pattern()
    if env is not None:
        values, pattern = env
        for value in values:  # substring tests first: most texts hold none
            if value in out:
                out = pattern.sub(REDACTED, out)
                break
    return out
