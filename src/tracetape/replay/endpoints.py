"""Where a model rebuilt from a tape may send: places the user trusts, never the tape's choice.

A recorded constructor names its endpoint (``openai_api_base``, ``azure_endpoint``, a
proxy, a bare ``api_endpoint`` host, ...), and a rerun sends the user's own API key
there from the environment. A tape is data that may come from anyone (a bug report, a
shared file), so a crafted one could name a host that collects keys. Every endpoint a
constructor names must be one the user already trusts:

- this machine: ``localhost``, ``127.0.0.0/8``, ``::1`` (any port);
- the origin (scheme, host and port) a provider's own base-URL variable sets, e.g.
  ``OPENAI_BASE_URL`` (see `PROVIDER_VARIABLES`); no other variable counts;
- a host listed in ``TRACETAPE_TRUSTED_HOSTS`` (comma-separated ``host`` or
  ``host:port``).

A constructor that names none keeps the provider's default (or what the user's own
environment sets) and passes. The check fails closed: any URL, whatever its scheme,
and any text under a key that names an endpoint (``url``, ``base``, ``endpoint``,
``host``, ``proxy``, ``server``, ...) is an endpoint, and one that cannot be parsed is
refused. A refusal names the field, the host and both ways on: trust it, or pass
``model=``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tracetape.replay.recording import NotReplayableError

TRUSTED_HOSTS_ENV = "TRACETAPE_TRUSTED_HOSTS"
PROVIDER_VARIABLES = (
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "AZURE_OPENAI_ENDPOINT",
    "ANTHROPIC_BASE_URL",
    "OLLAMA_HOST",
    "OLLAMA_BASE_URL",
    "MISTRAL_BASE_URL",
    "GROQ_BASE_URL",
    "DEEPSEEK_API_BASE",
    "XAI_API_BASE",
)
"""The environment variables whose origin a rebuilt model may be sent to."""

_ENDPOINT_WORDS = frozenset(
    {"url", "uri", "base", "endpoint", "host", "hostname", "proxy", "server", "address", "domain"}
)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _names_endpoint(key: str) -> bool:
    """Whether a config key names an endpoint: one of its words (snake, kebab or camel
    case) does (``openai_api_base``, ``azure_endpoint``, ``baseURL``; not ``security``)."""
    return any(word.lower() in _ENDPOINT_WORDS for word in _WORDS.findall(key))


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class Endpoint:
    """Where a value points: scheme (None for a bare host), host, port (None: default)."""

    scheme: str | None
    host: str
    port: int | None

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else _DEFAULT_PORTS.get(self.scheme or "")

    @property
    def local(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse(text: str, bare: bool) -> Endpoint | None:
    """The endpoint ``text`` names: a URL of any scheme, or with ``bare`` also
    ``host[:port][/path]``. None when it names none; `ValueError` when it cannot be told."""
    value = text.strip()
    if "://" in value:
        parts = urlsplit(value)
        if not parts.hostname:
            if parts.scheme.lower() in ("file", "unix"):
                return None  # a local path, not a network destination
            raise ValueError(f"no host in {value[:80]!r}")
        return Endpoint(parts.scheme.lower(), parts.hostname.lower(), parts.port)
    if not bare or not value:
        return None
    parts = urlsplit("//" + value)
    if not parts.hostname:
        raise ValueError(f"no host in {value[:80]!r}")
    return Endpoint(None, parts.hostname.lower(), parts.port)


def _named(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str, bool]]:
    """(field, text, whether its key names an endpoint) of every string in a config."""
    if isinstance(value, Mapping):
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            yield from _named(item, (*path, str(key)))  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(value, list):
        for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            yield from _named(item, (*path, str(index)))
    elif isinstance(value, str):
        keys = [p for p in path if not p.isdigit()]
        inner = path[1:] if path[:1] == ("kwargs",) else path
        yield ".".join(inner), value, bool(keys) and _names_endpoint(keys[-1])


def _listed(environ: Mapping[str, str]) -> list[Endpoint]:
    """The ``TRACETAPE_TRUSTED_HOSTS`` entries (a host, or host:port)."""
    listed: list[Endpoint] = []
    for entry in environ.get(TRUSTED_HOSTS_ENV, "").split(","):
        try:
            found = parse(entry, bare=True)
        except ValueError:
            continue
        if found is not None:
            listed.append(Endpoint(None, found.host, found.port))
    return listed


def _configured(environ: Mapping[str, str]) -> list[Endpoint]:
    """The origins the provider variables set."""
    configured: list[Endpoint] = []
    for name in PROVIDER_VARIABLES:
        try:
            found = parse(environ.get(name, ""), bare=True)
        except ValueError:
            continue
        if found is not None:
            configured.append(found)
    return configured


def trusted(endpoint: Endpoint, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a rebuilt model may be sent to ``endpoint`` (see the module docstring)."""
    env = os.environ if environ is None else environ
    if endpoint.local:
        return True
    for entry in _listed(env):
        if entry.host == endpoint.host and entry.port in (None, endpoint.effective_port):
            return True
    for origin in _configured(env):
        same_scheme = origin.scheme is None or origin.scheme == endpoint.scheme
        same_port = origin.effective_port in (None, endpoint.effective_port)
        if same_scheme and origin.host == endpoint.host and same_port:
            return True
    return False


def check(config: Mapping[str, Any], model: str, environ: Mapping[str, str] | None = None) -> None:
    """Refuse (`NotReplayableError`) a recorded constructor that names an endpoint the
    user does not trust (see the module docstring)."""
    for field, text, named in _named(config.get("kwargs", {})):
        try:
            endpoint = parse(text, bare=named)
        except ValueError:
            raise NotReplayableError(
                f"the recorded model {model}'s {field} names an endpoint that cannot be "
                "checked: a tape must not choose where your API key goes; pass model="
            ) from None
        if endpoint is None or trusted(endpoint, environ):
            continue
        where = endpoint.host if endpoint.port is None else f"{endpoint.host}:{endpoint.port}"
        raise NotReplayableError(
            f"the recorded model {model} sends to {where} (its {field}), which this machine "
            f"does not trust: a tape must not choose where your API key goes. If you trust "
            f"it, add it to {TRUSTED_HOSTS_ENV} (comma-separated) or set the provider's "
            "base URL variable (e.g. OPENAI_BASE_URL) to it; or pass model="
        )
