"""Where a model rebuilt from a tape may send: places the user trusts, never the tape's choice.

A recorded constructor names its endpoint (``openai_api_base``, ``azure_endpoint``, a
proxy, a bare ``api_endpoint`` host, ...), and a rerun sends the user's own API key
there from the environment. A tape is data that may come from anyone (a bug report, a
shared file), so a crafted one could name a host that collects keys. A rebuilt model may
send only to:

- this machine: ``localhost``, ``127.0.0.0/8``, ``::1`` (any port);
- the origin (scheme, host and port) one of its own provider's variables sets, e.g.
  ``OPENAI_BASE_URL`` for ``langchain_openai`` models (see `PROVIDER_VARIABLES`);
- a host listed in ``TRACETAPE_TRUSTED_HOSTS`` (comma-separated ``host`` or
  ``host:port``), for any provider.

Two checks enforce it. `check` reads the recorded constructor before the model is built:
every value under a key that names an endpoint (``url``, ``endpoint``, ``host``,
``proxy``, ``api_base``, ...) must name a trusted place, parsed strictly (a value it
cannot be sure of is refused), and so must any network URL elsewhere. Then `guarded`
checks each HTTP request the rebuilt model sends, as its httpx (or httpx2) client parsed
it, before it leaves: what a client makes of a value can differ from what any check
reads in it, and the request is the last word. A refusal is a `NotReplayableError`
naming the field or URL, with both ways on: trust the host, or pass ``model=``.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import inspect
import ipaddress
import os
import re
import threading
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tracetape.replay.recording import NotReplayableError

TRUSTED_HOSTS_ENV = "TRACETAPE_TRUSTED_HOSTS"
PROVIDER_VARIABLES: dict[str, str] = {
    "OPENAI_BASE_URL": "langchain_openai",
    "OPENAI_API_BASE": "langchain_openai",
    "OPENAI_PROXY": "langchain_openai",
    "AZURE_OPENAI_ENDPOINT": "langchain_openai",
    "ANTHROPIC_BASE_URL": "langchain_anthropic",
    "OLLAMA_HOST": "langchain_ollama",
    "OLLAMA_BASE_URL": "langchain_ollama",
    "MISTRAL_BASE_URL": "langchain_mistralai",
    "GROQ_BASE_URL": "langchain_groq",
    "DEEPSEEK_API_BASE": "langchain_deepseek",
    "XAI_API_BASE": "langchain_xai",
}
"""Environment variable -> the package of the models whose key may go to its origin."""

_BARE_PORTS = {"OLLAMA_HOST": 11434}
"""The port a variable set to a bare host means when it names none."""
_NETWORK_SCHEMES = frozenset(
    {"http", "https", "ws", "wss", "socks4", "socks4a", "socks5", "socks5h"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_ENDPOINT_WORDS = frozenset(
    {"url", "uri", "endpoint", "endpoints", "host", "hostname", "proxy", "server", "domain"}
)
_ENDPOINT_PARTS = ("endpoint", "end_point", "end-point", "api_base", "apibase", "baseurl")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?!\d+(?:[/?#]|$))")
"""A value that starts with a scheme (``http:``, ``https:@...``), not ``host:port``."""
_ESCAPED = "__lc_escaped__"
"""LangChain's wrapper around user data that looks like its own serialised objects."""


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
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def _strict_host(netloc: str, host: str | None, text: str) -> str:
    place = netloc.rpartition("@")[2]
    if not host or (("[" in place or "]" in place) and not place.startswith("[")):
        raise ValueError(f"no clear host in {text[:80]!r}")
    return host.lower()


def parse(text: str, bare: bool) -> Endpoint | None:
    """The endpoint ``text`` names: a URL (``scheme://host...``), or with ``bare`` also
    ``host[:port][/path]``. None when it names none. `ValueError` when it cannot be told
    for sure: a scheme without ``//host``, a path with dot segments or ``//`` (a client
    normalising it may find another host there), brackets around anything but an IPv6
    address."""
    value = text.strip()
    scheme = _SCHEME.match(value)
    if scheme is None and not bare:
        return None
    if scheme is not None and not value[scheme.end() :].startswith("//"):
        raise ValueError(f"a scheme without //host in {value[:80]!r}")
    parts = urlsplit(value if scheme is not None else "//" + value)
    segments = parts.path.split("/")
    if "//" in parts.path or "." in segments or ".." in segments or "\\" in value:
        raise ValueError(f"an unclear path in {value[:80]!r}")
    host = _strict_host(parts.netloc, parts.hostname, value)
    return Endpoint(parts.scheme.lower() or None, host, parts.port)


def names_endpoint(key: str) -> bool:
    """Whether a config key names an endpoint (``openai_api_base``, ``azure_endpoint``,
    ``baseURL``, ``hOsT``, ``apiEndPoint``; not ``security`` or ``base_model``)."""
    lowered = key.lower()
    words = {w.lower() for w in _WORDS.findall(key)} | set(re.split(r"[^a-z0-9]+", lowered))
    return bool(words & _ENDPOINT_WORDS) or any(part in lowered for part in _ENDPOINT_PARTS)


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(key path, text) of every string in a config; LangChain's escape wrappers are
    seen through (the key they sit under is the one that counts)."""
    if isinstance(value, Mapping):
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            step = () if key == _ESCAPED else (str(key),)  # pyright: ignore[reportUnknownArgumentType]
            yield from _strings(item, (*path, *step))
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            yield from _strings(item, path)
    elif isinstance(value, str):
        yield path, value


def _listed(environ: Mapping[str, str]) -> list[Endpoint]:
    """The ``TRACETAPE_TRUSTED_HOSTS`` entries (a host, or host:port)."""
    listed: list[Endpoint] = []
    for entry in environ.get(TRUSTED_HOSTS_ENV, "").split(","):
        try:
            found = parse(entry, bare=True) if entry.strip() else None
        except ValueError:
            continue
        if found is not None:
            listed.append(Endpoint(None, found.host, found.port))
    return listed


def _configured(environ: Mapping[str, str], provider: str) -> list[Endpoint]:
    """The origins ``provider``'s own variables set."""
    configured: list[Endpoint] = []
    for name, package in PROVIDER_VARIABLES.items():
        value = environ.get(name, "").strip()
        if package != provider or not value:
            continue
        try:
            found = parse(value, bare=True)
        except ValueError:
            continue
        if found is not None and found.port is None and found.scheme is None:
            found = Endpoint(None, found.host, _BARE_PORTS.get(name))
        if found is not None:
            configured.append(found)
    return configured


def trusted(endpoint: Endpoint, provider: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a rebuilt model of ``provider`` (its package, e.g. ``langchain_openai``)
    may send to ``endpoint`` (see the module docstring)."""
    env = os.environ if environ is None else environ
    if endpoint.local:
        return True
    for entry in _listed(env):
        if entry.host == endpoint.host and entry.port in (None, endpoint.effective_port):
            return True
    for origin in _configured(env, provider):
        same_scheme = origin.scheme is None or origin.scheme == endpoint.scheme
        same_port = origin.effective_port in (None, endpoint.effective_port)
        if same_scheme and origin.host == endpoint.host and same_port:
            return True
    return False


def _refusal(model: str, where: str, what: str) -> NotReplayableError:
    return NotReplayableError(
        f"the recorded model {model} {what} ({where}), which this machine does not trust: "
        f"a tape must not choose where your API key goes. If you trust it, add it to "
        f"{TRUSTED_HOSTS_ENV} (comma-separated) or set the provider's base URL variable "
        "(e.g. OPENAI_BASE_URL) to it; or pass model="
    )


def check(
    config: Mapping[str, Any],
    model: str,
    provider: str,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Refuse (`NotReplayableError`) a recorded constructor that names an endpoint the
    user does not trust, or one that cannot be told for sure (see the module docstring)."""
    for path, text in _strings(config.get("kwargs", {})):
        named = bool(path) and names_endpoint(path[-1])
        field = ".".join(path) or "(the constructor)"
        try:
            endpoint = parse(text, bare=named)
        except ValueError:
            if not named:
                continue  # not a network address (a regex, a stop sequence): never sent to
            raise NotReplayableError(
                f"the recorded model {model}'s {field} names an endpoint that cannot be "
                "checked: a tape must not choose where your API key goes; pass model="
            ) from None
        if endpoint is None or (not named and endpoint.scheme not in _NETWORK_SCHEMES):
            continue
        if not trusted(endpoint, provider, environ):
            raise _refusal(model, f"its {field}", f"sends to {endpoint}")


# -- the last word: each request as the client parsed it --------------------------------

_sending: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "tracetape_rebuilt_model", default=None
)
_install_lock = threading.Lock()
_MARK = "__tracetape_guarded__"


def _check_request(request: Any) -> None:
    sending = _sending.get()
    if sending is None:
        return
    model, provider = sending
    url = request.url
    endpoint = Endpoint(str(url.scheme).lower(), str(url.host).lower(), url.port)
    if not endpoint.host or not trusted(endpoint, provider):
        shown = str(url.copy_with(query=None, fragment=None))
        raise _refusal(
            model, "the request as its HTTP client built it", f"tried to send to {shown}"
        )


def _wrap(send: Any) -> Any:
    if getattr(send, _MARK, False):
        return send
    if inspect.iscoroutinefunction(send):

        @functools.wraps(send)
        async def asend(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            _check_request(request)
            return await send(self, request, *args, **kwargs)

        setattr(asend, _MARK, True)
        return asend

    @functools.wraps(send)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        _check_request(request)
        return send(self, request, *args, **kwargs)

    setattr(wrapper, _MARK, True)
    return wrapper


def _install() -> None:
    """Wrap ``send`` of httpx's and httpx2's clients (those importable), once; a wrapper
    checks only inside `guarded`, and otherwise costs one context-variable lookup."""
    with _install_lock:
        for name in ("httpx2", "httpx"):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            for cls_name in ("Client", "AsyncClient"):
                cls = getattr(module, cls_name, None)
                if cls is not None:
                    cls.send = _wrap(cls.send)


@contextmanager
def guarded(model: str, provider: str) -> Generator[None]:
    """While the block runs (in this context), every HTTP request an httpx or httpx2
    client sends must go to a place a ``provider`` model may send to; any other raises
    `NotReplayableError` before it is sent."""
    _install()
    token = _sending.set((model, provider))
    try:
        yield
    finally:
        _sending.reset(token)
