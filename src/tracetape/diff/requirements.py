"""Environment rollback: a recorded environment snapshot as a pinned requirements file.

``name==version`` lines, sorted, under a header that says where the snapshot came from
(Python, platform, git commit, container image): what a user needs to rebuild the
environment of a good run (``tracetape env export ID``). tracetape itself is left as a
comment: it may be an editable install, and whoever rebuilds installs it their own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SELF = "tracetape"


def _header(snapshot: Mapping[str, Any]) -> list[str]:
    python = snapshot.get("python") or {}
    platform = snapshot.get("platform") or {}
    git = snapshot.get("git") or {}
    container = snapshot.get("container") or {}
    lines = [
        f"# Pinned by tracetape from environment {snapshot.get('environment_id', '?')}",
        f"# python {python.get('version', '?')} ({python.get('implementation', '?')})",
        "# platform " + " ".join(
            str(platform[k]) for k in ("system", "release", "machine", "libc") if platform.get(k)
        ),
    ]  # fmt: skip
    if git.get("commit"):
        state = f", uncommitted changes {git['dirty_hash']}" if git.get("dirty") else ""
        lines.append(f"# git commit {git['commit']}{state}")
    if container.get("image"):
        lines.append(f"# container image {container['image']}")
    return lines


def requirements(snapshot: Mapping[str, Any]) -> str:
    """The snapshot's installed distributions as a pinned requirements file.

    Example:
        >>> print(requirements(tape.environment("env-3f2a9c0d1e4b5a69")))
        # Pinned by tracetape from environment env-3f2a9c0d1e4b5a69
        ...
        langgraph==0.4.8
    """
    packages: Mapping[str, str] = snapshot.get("packages") or {}
    lines = _header(snapshot)
    if _SELF in packages:
        lines.append(
            f"# {_SELF}=={packages[_SELF]} recorded this snapshot; install it your own way"
        )
    lines.extend(
        f"{name}=={version}" for name, version in sorted(packages.items()) if name != _SELF
    )
    return "\n".join(lines) + "\n"
