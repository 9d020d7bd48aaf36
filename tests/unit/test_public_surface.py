"""The façade: a frozen ``__all__`` and a cheap ``import tracetape``."""

from __future__ import annotations

import subprocess
import sys

import tracetape


def test_all_is_frozen_and_sorted():
    assert tracetape.__all__ == [
        "Artifact",
        "Diff",
        "DiffError",
        "FlushError",
        "IntegrationMissingError",
        "Lineage",
        "NotFoundError",
        "NotReplayableError",
        "Replay",
        "ReplayDivergence",
        "Rerun",
        "Run",
        "SchemaVersionError",
        "SpanNode",
        "Tape",
        "TapeCorruptError",
        "TapeError",
        "TapeLockedError",
        "Trace",
        "TracetapeError",
        "instrument",
        "open",
        "span",
        "uninstrument",
    ]
    assert tracetape.__all__ == sorted(tracetape.__all__)
    for name in tracetape.__all__:
        assert getattr(tracetape, name) is not None


def test_import_does_not_load_frameworks_or_duckdb():
    code = (
        "import sys, tracetape\n"
        "heavy = [m for m in ('langchain_core', 'langgraph', 'llama_index', 'duckdb', 'pandas')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
