"""Reading a tape from a process that did not write it: the state a user's shell, a second
notebook or CI is in (a process that wrote the tape already knows its schema is current
and skips the reads a fresh one makes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tracetape


def _recorded(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "tape.duckdb"
    script = (
        "import sys, tracetape\n"
        "tape = tracetape.open(sys.argv[1])\n"
        "with tracetape.span('ask') as s:\n"
        "    s.set_output('an answer')\n"
        "tape.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=120)
    reader = subprocess.run(
        [sys.executable, "-m", "tracetape.cli", "--path", str(path), "sql",
         "select trace_id from traces"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (trace_id,) = [w for w in reader.stdout.split() if len(w) == 32]
    return path, trace_id


def _cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tracetape.cli", "--path", str(path), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_fresh_process_runs_sql_that_names_no_view(tmp_path):
    path, _ = _recorded(tmp_path)

    done = _cli(path, "sql", "select 42 as answer")

    assert (done.returncode, done.stderr) == (0, "")
    assert "42" in done.stdout
    code = "import sys, tracetape; print(tracetape.open(sys.argv[1]).sql('select 7 as x').x[0])"
    shown = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert (shown.returncode, shown.stdout.strip()) == (0, "7"), shown.stderr[-2000:]


def test_a_fresh_process_shows_lineage_and_the_trace(tmp_path):
    path, trace_id = _recorded(tmp_path)

    lineage = _cli(path, "lineage", trace_id)
    show = _cli(path, "show", trace_id)

    assert (lineage.returncode, lineage.stderr) == (0, ""), lineage.stderr
    assert f"trace ask  {trace_id[:8]}" in lineage.stdout and "environment env-" in lineage.stdout
    assert (show.returncode, show.stderr) == (0, "") and "ask" in show.stdout
    assert tracetape.open(path).trace(trace_id).name == "ask"
