"""Environment snapshots compared: packages by name, every other field by its path."""

from __future__ import annotations

from typing import Any

from tracetape.diff.changes import ContextChange
from tracetape.diff.environment import context_changes, environment_changes, package_changes
from tracetape.diff.requirements import requirements


def snapshot(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "environment_id": "env-0000000000000001",
        "python": {"version": "3.11.7", "implementation": "CPython", "executable": "/v/bin/python"},
        "platform": {
            "system": "Linux",
            "release": "6.1",
            "machine": "x86_64",
            "libc": "glibc-2.36",
        },
        "packages": {"langgraph": "0.4.8", "openai": "1.0.0", "tracetape": "0.1.0"},
        "git": {"commit": "abc123", "branch": "main", "dirty": False, "dirty_hash": None},
        "container": {"in_container": False, "image": None},
        "hardware": {"cpu": "x", "cpu_count": 2, "gpus": []},
    }
    for path, value in overrides.items():
        *parents, leaf = path.split("__")
        node = base
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return base


def test_packages_added_removed_and_changed() -> None:
    changes = package_changes({"a": "1", "b": "1", "c": "1"}, {"b": "2", "c": "1", "d": "1"})

    assert [(c.name, c.status, c.before, c.after) for c in changes] == [
        ("a", "removed", "1", "—"),
        ("b", "changed", "1", "2"),
        ("d", "added", "—", "1"),
    ]


def test_every_snapshot_field_is_compared_by_its_path() -> None:
    a = snapshot()
    b = snapshot(
        python__version="3.12.1",
        git__commit="def456",
        git__dirty=True,
        git__dirty_hash="9f86d081884c7d65",
        container__image="ghcr.io/acme/agent:2",
        hardware__gpus=[{"vendor": "nvidia", "driver": "550.54"}],
        packages__openai="1.2.0",
        environment_id="env-0000000000000002",
    )

    changes = {(c.kind, c.subject): (c.before, c.after) for c in environment_changes(a, b)}

    assert changes == {
        ("package", "openai"): ("1.0.0", "1.2.0"),
        ("environment", "container.image"): ("—", "ghcr.io/acme/agent:2"),
        ("environment", "git.commit"): ("abc123", "def456"),
        ("environment", "git.dirty"): ("false", "true"),
        ("environment", "git.dirty_hash"): ("—", "9f86d081884c7d65"),
        ("environment", "hardware.gpus"): ("[]", '[{"driver": "550.54", "vendor": "nvidia"}]'),
        ("environment", "python.version"): ("3.11.7", "3.12.1"),
    }
    assert environment_changes(a, snapshot()) == []


def test_the_interpreter_path_and_the_branch_are_context_not_causes() -> None:
    a = snapshot()
    other_venv = snapshot(python__executable="/w/.venv-b/bin/python", git__branch="fix")

    assert environment_changes(a, other_venv) == []
    assert context_changes(a, other_venv) == [
        ContextChange(field="git.branch", value_a="main", value_b="fix"),
        ContextChange(
            field="python.executable", value_a="/v/bin/python", value_b="/w/.venv-b/bin/python"
        ),
    ]
    # Whatever else differs stays a cause, the context apart.
    upgraded = snapshot(python__executable="/w/bin/python", python__version="3.12.1")
    assert [c.subject for c in environment_changes(a, upgraded)] == ["python.version"]
    assert [c.subject for c in context_changes(a, upgraded)] == ["python.executable"]
    assert context_changes(a, snapshot()) == []


def test_requirements_pin_every_package_but_tracetape_under_a_header() -> None:
    text = requirements(
        snapshot(git__dirty=True, git__dirty_hash="9f86d081", container__image="acme/agent:2")
    )

    assert text.splitlines() == [
        "# Pinned by tracetape from environment env-0000000000000001",
        "# python 3.11.7 (CPython)",
        "# platform Linux 6.1 x86_64 glibc-2.36",
        "# git commit abc123, uncommitted changes 9f86d081",
        "# container image acme/agent:2",
        "# tracetape==0.1.0 recorded this snapshot; install it your own way",
        "langgraph==0.4.8",
        "openai==1.0.0",
    ]
