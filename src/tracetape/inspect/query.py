"""The query API over span trees: ``find``, ``first`` and ``any`` by predicate or filters.

A query is a predicate (any ``SpanNode -> bool`` callable), keyword filters, or both;
a span matches when it passes every one of them. Filters compare a span's columns; a
predicate can also look along the tree (``lambda s: s.any_child(kind="tool")``).

Example:
    >>> trace.find(kind="tool", failed=True)
    >>> trace.first(kind="llm", model=re.compile("gpt-4"))
    >>> trace.any(lambda s: s.duration_ms > 1000 and s.any_ancestor(kind="node"))
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from tracetape.spans.kinds import KINDS

if TYPE_CHECKING:
    from tracetape.inspect.span import SpanNode

Predicate = Callable[["SpanNode"], bool]
"""Any callable taking a span and returning whether it matches."""


class SpanFilter(TypedDict, total=False):
    """The keyword filters of ``find``, ``first`` and ``any``; all given must hold.

    A ``str`` matches exactly; a compiled ``re.Pattern`` matches by ``search``; a
    collection of strings matches any one of them.
    """

    kind: str | Collection[str]
    """Span kind(s): ``llm``, ``tool``, ``retriever``, ``prompt``, ``node``, ..."""
    name: str | re.Pattern[str] | Collection[str]
    """The span's name."""
    name_contains: str
    """A substring of the span's name (case-sensitive)."""
    status: str
    """``ok``, ``error`` or ``unset``."""
    failed: bool
    """True: only spans whose status is ``error``; False: only the others."""
    error_type: str | re.Pattern[str]
    """The exception class (``module.QualName``, or a pattern such as ``"NotFound"``)."""
    model: str | re.Pattern[str] | Collection[str]
    """The model that answered (else the one requested)."""
    provider: str
    """``gen_ai.provider.name``, e.g. ``openai``."""
    tool_name: str | re.Pattern[str] | Collection[str]
    """The tool's name (tool spans)."""
    operation: str
    """The semconv ``gen_ai.operation.name`` (``chat``, ``execute_tool``, ...)."""
    span_id: str
    """The span's id."""
    min_duration_ms: float
    """At least this long."""
    max_duration_ms: float
    """At most this long."""
    attributes: Mapping[str, Any]
    """Attributes that must equal these values (by their semconv names)."""
    has_attribute: str | Collection[str]
    """Attribute name(s) that must be present."""
    contains: str
    """Text (case-insensitive) occurring in the span's input or output."""


FILTERS: frozenset[str] = frozenset(SpanFilter.__annotations__)


def _text_match(actual: str | None, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(expected, re.Pattern):
        return expected.search(actual) is not None
    if isinstance(expected, str):
        return actual == expected
    return actual in expected


def _payload_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, ensure_ascii=False, default=str)


def _check(node: SpanNode, key: str, expected: Any) -> bool:
    match key:
        case "kind":
            return node.kind == expected if isinstance(expected, str) else node.kind in expected
        case "name" | "model" | "tool_name" | "error_type":
            return _text_match(getattr(node, key), expected)
        case "name_contains":
            return expected in node.name
        case "status" | "provider" | "operation" | "span_id":
            return getattr(node, key) == expected
        case "failed":
            return node.failed is bool(expected)
        case "min_duration_ms":
            return node.duration_ms is not None and node.duration_ms >= expected
        case "max_duration_ms":
            return node.duration_ms is not None and node.duration_ms <= expected
        case "attributes":
            missing = object()
            attrs = node.attributes
            return all(attrs.get(k, missing) == v for k, v in expected.items())
        case "has_attribute":
            names = [expected] if isinstance(expected, str) else expected
            return all(k in node.attributes for k in names)
        case "contains":
            needle = str(expected).casefold()
            return any(needle in _payload_text(p).casefold() for p in (node.input, node.output))
        case _:  # pragma: no cover - keys are validated in `matcher`
            raise TypeError(f"unknown span filter {key!r}")


def matcher(predicate: Predicate | None, filters: Mapping[str, Any]) -> Predicate:
    """One predicate testing ``predicate`` and every filter; checks the filters first.

    Raises ``TypeError`` for an unknown filter and ``ValueError`` for an unknown kind,
    so a typo fails loudly instead of matching nothing.
    """
    unknown = sorted(set(filters) - FILTERS)
    if unknown:
        raise TypeError(f"unknown span filter(s) {unknown}; filters are {sorted(FILTERS)}")
    kind = filters.get("kind")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"unknown span kind(s) {bad}; kinds are {list(KINDS)}")
    checks = [(k, v) for k, v in filters.items() if v is not None]
    if predicate is not None and not callable(predicate):
        raise TypeError(
            "the first argument of find/first/any is a predicate (a callable); "
            f"got {predicate!r} - use a keyword such as name=... or kind=..."
        )

    def matches(node: SpanNode) -> bool:
        if not all(_check(node, k, v) for k, v in checks):
            return False
        return predicate is None or bool(predicate(node))

    return matches


def find_in(
    nodes: Iterable[SpanNode], predicate: Predicate | None, filters: Mapping[str, Any]
) -> list[SpanNode]:
    """The nodes that match, in the order given."""
    test = matcher(predicate, filters)
    return [node for node in nodes if test(node)]


def first_in(
    nodes: Iterable[SpanNode], predicate: Predicate | None, filters: Mapping[str, Any]
) -> SpanNode | None:
    """The first node that matches, or None."""
    test = matcher(predicate, filters)
    return next((node for node in nodes if test(node)), None)


class Searchable:
    """``find``, ``first`` and ``any`` over the spans ``_scope()`` yields (in tree order)."""

    def _scope(self) -> Iterable[SpanNode]:
        raise NotImplementedError

    def find(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> list[SpanNode]:
        """Every span that matches, in tree order (parents first, siblings by start).

        Example:
            >>> trace.find(kind="tool", failed=True)
            >>> trace.find(lambda s: (s.output_tokens or 0) > 500, kind="llm")
        """
        return find_in(self._scope(), predicate, filters)

    def first(
        self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]
    ) -> SpanNode | None:
        """The first span that matches in tree order, or None.

        Example:
            >>> trace.first(kind="llm", model=re.compile("gpt-4o"))
        """
        return first_in(self._scope(), predicate, filters)

    def any(self, predicate: Predicate | None = None, /, **filters: Unpack[SpanFilter]) -> bool:
        """Whether any span matches.

        Example:
            >>> trace.any(kind="tool", tool_name="lookup_order", failed=True)
        """
        return first_in(self._scope(), predicate, filters) is not None
