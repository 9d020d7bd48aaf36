"""Compare two environment snapshots (see `tracetape.spans.environment`).

Packages are compared by name (added, removed, other version); every other field of
the snapshot (``python.version``, ``platform.release``, ``git.commit``,
``git.dirty_hash``, ``container.image``, ``hardware.gpus``, ...) by its dotted path, so
a field a later snapshot adds is compared without a change here.

Two fields are context, not causes: ``python.executable`` (the same Python and packages
in two virtualenvs differ only in the interpreter's path; the version, implementation
and packages say what it is) and ``git.branch`` (the commit and the dirty hash say what
code ran; a branch is a name for it). They are reported apart, as `ContextChange`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracetape.diff.causes import EnvironmentChange, PackageChange
from tracetape.diff.changes import Change, ContextChange

_NOT_COMPARED = frozenset({"environment_id", "packages", "taken_at"})
CONTEXT_FIELDS = frozenset({"python.executable", "git.branch"})
"""Snapshot fields that differ without changing what the agent does by themselves."""


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict of dotted keys; lists stay values."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, path + "."))
        else:
            out[path] = item
    return out


def package_changes(a: Mapping[str, str], b: Mapping[str, str]) -> list[PackageChange]:
    """Distributions added, removed or at another version, sorted by name."""
    return [
        PackageChange(name=name, version_a=a.get(name), version_b=b.get(name))
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    ]


def _differing(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    fields_a = flatten({k: v for k, v in a.items() if k not in _NOT_COMPARED})
    fields_b = flatten({k: v for k, v in b.items() if k not in _NOT_COMPARED})
    return [
        (path, fields_a.get(path), fields_b.get(path))
        for path in sorted(set(fields_a) | set(fields_b))
        if fields_a.get(path) != fields_b.get(path)
    ]


def environment_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Change]:
    """The causes among the differences of two snapshots: packages first, then fields by
    path (`CONTEXT_FIELDS` left out: see `context_changes`)."""
    changes: list[Change] = list(package_changes(a.get("packages") or {}, b.get("packages") or {}))
    changes.extend(
        EnvironmentChange(field=path, value_a=value_a, value_b=value_b)
        for path, value_a, value_b in _differing(a, b)
        if path not in CONTEXT_FIELDS
    )
    return changes


def context_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ContextChange]:
    """The `CONTEXT_FIELDS` that differ between two snapshots, by path."""
    return [
        ContextChange(field=path, value_a=value_a, value_b=value_b)
        for path, value_a, value_b in _differing(a, b)
        if path in CONTEXT_FIELDS
    ]
