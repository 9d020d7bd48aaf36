"""Where a model rebuilt from a tape may send: hosts the user trusts, never the tape's choice.

A recorded constructor names its endpoint (``openai_api_base``, ``azure_endpoint``, a
proxy, ...), and a rerun sends the user's own API key there from the environment. A tape
is data that may come from anyone (a bug report, a shared file), so a crafted one could
name a host that collects keys. A rebuilt model is sent only to hosts the user already
trusts:

- no endpoint recorded (the provider's default, or what the user's environment sets);
- this machine (``localhost``, ``127.0.0.0/8``, ``::1``): the key never leaves it;
- a host an environment variable of the user configures as an endpoint (a name ending
  in ``_BASE_URL``, ``_API_BASE``, ``_ENDPOINT`` or ``_HOST``, e.g. ``OPENAI_BASE_URL``);
- a host listed in ``TRACETAPE_TRUSTED_HOSTS`` (comma-separated host names).

Any other host refuses the rebuild with `NotReplayableError`, naming the field, the host
and both ways on: trust the host, or pass ``model=``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from tracetape.replay.recording import NotReplayableError

TRUSTED_HOSTS_ENV = "TRACETAPE_TRUSTED_HOSTS"
_ENDPOINT_SUFFIXES = ("_BASE_URL", "_API_BASE", "_ENDPOINT", "_HOST")


def _host(text: str) -> str | None:
    """The host a URL names (lower case), None when ``text`` is no http(s) URL."""
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ws", "wss") or not parts.hostname:
        return None
    return parts.hostname.lower()


def _urls(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """(field, host) of every URL among a serialised constructor's values."""
    if isinstance(value, Mapping):
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            yield from _urls(item, (*path, str(key)))  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(value, list):
        for index, item in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            yield from _urls(item, (*path, str(index)))
    elif isinstance(value, str):
        host = _host(value)
        if host is not None:
            inner = path[1:] if path[:1] == ("kwargs",) else path
            yield ".".join(inner), host


def _local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_hosts(environ: Mapping[str, str] | None = None) -> set[str]:
    """The hosts the user's environment configures as endpoints or lists as trusted."""
    env = os.environ if environ is None else environ
    hosts = {h.strip().lower() for h in env.get(TRUSTED_HOSTS_ENV, "").split(",") if h.strip()}
    for name, value in env.items():
        if name.upper().endswith(_ENDPOINT_SUFFIXES):
            host = _host(value) or (value.strip().lower() if "://" not in value else None)
            if host:
                hosts.add(host.split(":")[0] if host.count(":") == 1 else host)
    return hosts


def check(config: Mapping[str, Any], model: str, environ: Mapping[str, str] | None = None) -> None:
    """Refuse (`NotReplayableError`) a recorded constructor that would send to a host the
    user does not trust (see the module docstring)."""
    trusted: set[str] | None = None
    for field, host in _urls(config.get("kwargs", {})):
        if _local(host):
            continue
        trusted = trusted_hosts(environ) if trusted is None else trusted
        if host not in trusted:
            raise NotReplayableError(
                f"the recorded model {model} sends to {host} (its {field}), a host this "
                f"machine does not trust: a tape must not choose where your API key goes. "
                f"If you trust it, add it to {TRUSTED_HOSTS_ENV} (comma-separated) or set "
                "the provider's base URL variable to it; or pass model="
            )
