"""The environment snapshot: taken once per process, identified by its content hash.

Python, platform, installed distributions with versions, git commit and a hash of
uncommitted changes, container image if any, CPU and GPU. Every span refers to it by
its id (``env-`` + 16 hex), a resource attribute of the tape's tracer provider.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_cached: dict[str, Any] | None = None
_cached_pid: int | None = None


def _after_fork_in_child() -> None:
    # A thread taking the snapshot at fork() would leave the child's lock held for ever.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _git(args: list[str], cwd: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def _git_info(cwd: str) -> dict[str, Any]:
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return {"commit": None, "dirty": None, "dirty_hash": None, "branch": None}
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd) or ""
    diff = _git(["diff", "HEAD", "--no-ext-diff", "--binary"], cwd) or ""
    branch = (_git(["rev-parse", "--abbrev-ref", "HEAD"], cwd) or "").strip() or None
    dirty = bool(status.strip())
    return {
        "commit": commit.strip(),
        "branch": branch,
        "dirty": dirty,
        "dirty_hash": hashlib.sha256(diff.encode()).hexdigest()[:16] if dirty else None,
    }


def _container() -> dict[str, Any]:
    image = os.environ.get("TRACETAPE_CONTAINER_IMAGE") or os.environ.get("CONTAINER_IMAGE")
    in_container = Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
    try:
        cgroup = Path("/proc/1/cgroup").read_text(errors="replace")
        in_container = in_container or any(
            word in cgroup for word in ("docker", "kubepods", "containerd", "libpod")
        )
    except OSError:
        pass
    return {"in_container": in_container, "image": image}


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _gpus() -> list[dict[str, str]]:
    gpus: list[dict[str, str]] = []
    driver = Path("/proc/driver/nvidia/version")
    if driver.exists():
        try:
            gpus.append({"vendor": "nvidia", "driver": driver.read_text().splitlines()[0]})
        except (OSError, IndexError):
            gpus.append({"vendor": "nvidia", "driver": "unknown"})
    gpu_dir = Path("/proc/driver/nvidia/gpus")
    if gpu_dir.is_dir():
        for card in sorted(gpu_dir.iterdir()):
            try:
                info = (card / "information").read_text(errors="replace")
            except OSError:
                continue
            for line in info.splitlines():
                if line.startswith("Model:"):
                    gpus.append({"vendor": "nvidia", "model": line.split(":", 1)[1].strip()})
    return gpus


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str, str] | None:
    # Only the two header fields: ``dist.metadata`` runs the email parser over the whole
    # file, which for ~300 distributions costs ~0.35 s of every process's first open().
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the headers end at the first blank line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in fields:
            fields[key] = value.strip()
    if not fields.get("Name") or "Version" not in fields:
        return None
    return fields["Name"], fields["Version"]


def _packages() -> dict[str, str]:
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        found = _name_and_version(dist)
        if found is not None:
            packages[found[0].lower().replace("_", "-")] = found[1]
    return dict(sorted(packages.items()))


def take_snapshot(cwd: str | None = None) -> dict[str, Any]:
    """Read this process's environment now (uncached). Returns the snapshot with its id."""
    where = cwd or os.getcwd()
    body: dict[str, Any] = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "libc": "-".join(platform.libc_ver()) or None,
        },
        "packages": _packages(),
        "git": _git_info(where),
        "container": _container(),
        "hardware": {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpus": _gpus()},
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    body["environment_id"] = "env-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return body


def snapshot() -> dict[str, Any]:
    """This process's snapshot, taken on first use and cached for the process's life."""
    global _cached, _cached_pid
    with _lock:
        if _cached is None or _cached_pid != os.getpid():
            # A forked child shares its parent's environment; keep the parent's snapshot.
            if _cached is None:
                _cached = take_snapshot()
            _cached_pid = os.getpid()
        return _cached
