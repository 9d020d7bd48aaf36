"""The environment snapshot: one per process, identified by its content."""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest

from tracetape.spans import environment


def test_the_snapshot_is_taken_once_and_named_by_its_content() -> None:
    first = environment.snapshot()

    assert environment.snapshot() is first
    assert re.fullmatch(r"env-[0-9a-f]{16}", first["environment_id"])
    body = {key: value for key, value in first.items() if key != "environment_id"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert first["environment_id"] == "env-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert set(first) >= {"python", "platform", "packages", "git", "container", "hardware"}
    assert first["packages"]["duckdb"]
    json.dumps(first)  # stored as JSON as it is


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_child_keeps_its_parents_snapshot() -> None:
    parent = environment.snapshot()["environment_id"]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, environment.snapshot()["environment_id"].encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)

    assert child == parent
