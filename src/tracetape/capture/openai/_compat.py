"""Everything of the ``openai`` SDK's private layout that tracetape relies on, in one place.

`tests/unit/capture/test_openai_compat.py` fails when any of it moves, so an SDK upgrade
that breaks capture is caught by the test suite, not by a user's missing spans.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final, Literal

COMPLETIONS_MODULE: Final = "openai.resources.chat.completions"
"""Where the chat-completions resource classes are importable from."""
SYNC_CLASS: Final = "Completions"
"""``client.chat.completions`` of ``openai.OpenAI``."""
ASYNC_CLASS: Final = "AsyncCompletions"
"""``client.chat.completions`` of ``openai.AsyncOpenAI``."""
METHODS: Final = ("create", "parse")
"""The resource methods that send a chat request (``stream()`` calls ``create``)."""
RAW_RESPONSE_HEADER: Final = "X-Stainless-Raw-Response"
"""The header ``with_raw_response`` ("true") and ``with_streaming_response`` ("stream")
add to ``extra_headers``; with it, ``create`` returns a response object, not a model."""
_AZURE_CLIENTS: Final = frozenset({"AzureOpenAI", "AsyncAzureOpenAI"})
PARSING_MODULE: Final = "openai.lib._parsing"
"""Where the SDK's ``type_to_response_format_param`` lives: what ``parse()`` (and
LangChain's ChatOpenAI for a pydantic ``response_format``) sends for a class."""

ResponseMode = Literal["parsed", "raw", "streamed_raw"]


EMBEDDINGS_MODULE: Final = "openai.resources.embeddings"
"""Where the embeddings resource classes (``Embeddings``, ``AsyncEmbeddings``) live."""
EMBEDDINGS_CLASSES: Final = ("Embeddings", "AsyncEmbeddings")


def embeddings_classes() -> tuple[type[Any], type[Any]] | None:
    """The sync and async embeddings resource classes, or None without ``openai``."""
    try:
        module = importlib.import_module(EMBEDDINGS_MODULE)
    except ImportError:
        return None
    sync_name, async_name = EMBEDDINGS_CLASSES
    return getattr(module, sync_name), getattr(module, async_name)


def completions_classes() -> tuple[type[Any], type[Any]] | None:
    """The sync and async chat-completions resource classes, or None without ``openai``."""
    try:
        module = importlib.import_module(COMPLETIONS_MODULE)
    except ImportError:
        return None
    return getattr(module, SYNC_CLASS), getattr(module, ASYNC_CLASS)


def response_mode(kwargs: Mapping[str, Any]) -> ResponseMode:
    """What ``create`` will return for these keyword arguments.

    ``parsed``: a ``ChatCompletion`` (or a ``Stream`` of chunks); ``raw``: a
    ``LegacyAPIResponse`` (``with_raw_response``), whose ``parse()`` gives either;
    ``streamed_raw``: an ``APIResponse`` whose body is not read yet
    (``with_streaming_response``).
    """
    headers = kwargs.get("extra_headers")
    if not isinstance(headers, Mapping):
        return "parsed"
    value = headers.get(RAW_RESPONSE_HEADER)  # pyright: ignore[reportUnknownMemberType]
    if value == "stream":
        return "streamed_raw"
    return "raw" if value == "true" else "parsed"


def is_omitted(value: object) -> bool:
    """True for the SDK's "argument not given" sentinels (``omit``, ``NOT_GIVEN``)."""
    name = type(value).__name__
    return name in ("Omit", "NotGiven") and type(value).__module__.startswith("openai")


def client_of(resource: object) -> object | None:
    """The ``OpenAI`` / ``AsyncOpenAI`` client a completions resource belongs to."""
    return getattr(resource, "_client", None)


def is_azure(client: object | None) -> bool:
    """Whether the client is one of the SDK's Azure OpenAI clients (or a subclass)."""
    return any(cls.__name__ in _AZURE_CLIENTS for cls in type(client).__mro__)


def base_url(client: object | None) -> tuple[str | None, int | None]:
    """Host and port of the client's base URL (never its credentials or path)."""
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    port = getattr(url, "port", None)
    return (
        host if isinstance(host, str) and host else None,
        port if isinstance(port, int) and not isinstance(port, bool) else None,
    )


def parse_raw(response: object) -> object | None:
    """The model a ``with_raw_response`` result parses to (the SDK caches it, so the
    user's own ``parse()`` gets the same object without a second read)."""
    parse = getattr(response, "parse", None)
    return parse() if callable(parse) else None


def strict_response_format(cls: type) -> Any | None:
    """The ``response_format`` the SDK sends for a pydantic class or dataclass (its strict
    JSON schema, ``"strict": true``); None without ``openai`` or for a class it refuses."""
    try:
        convert = importlib.import_module(PARSING_MODULE).type_to_response_format_param
    except (ImportError, AttributeError):
        return None
    try:
        return convert(cls)
    except (TypeError, ValueError):  # not a class the SDK takes, or a schema it cannot make strict
        return None
