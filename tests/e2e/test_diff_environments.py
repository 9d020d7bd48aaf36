"""Two processes with the same Python and the same packages in two virtualenvs: their
environments differ only in the interpreter's path, which ``tape.diff`` reports as
context, not as a cause.

The second virtualenv is made by hand, as ``python -m venv`` lays one out: its own
``bin/python`` (a link to the same base interpreter) and ``pyvenv.cfg``, and, for the
same packages, this virtualenv's site-packages linked in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import tracetape
from tracetape.diff import ContextChange

RECORD = """
import sys, tracetape
tape = tracetape.open(sys.argv[1])
with tape.run("same-code") as run, tracetape.span("step"):
    pass
tape.close()
print(run.run_id)
"""


def _other_venv(root: Path) -> Path:
    """A second virtualenv beside this one, with the same packages; its interpreter."""
    venv = root / "venv-b"
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(Path(sys.executable).resolve())
    base = Path(sys.executable).resolve().parent
    (venv / "pyvenv.cfg").write_text(f"home = {base}\ninclude-system-site-packages = false\n")
    packages = Path(sysconfig.get_paths()["purelib"])
    linked = venv / packages.relative_to(sys.prefix)
    linked.parent.mkdir(parents=True)
    linked.symlink_to(packages)
    return python


def _record(python: Path | str, tape: Path) -> str:
    """Record one run with ``python`` in a fresh process outside any git checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACETAPE_", "PYTHON"))}
    done = subprocess.run(
        [str(python), "-c", RECORD, str(tape)],
        cwd=tape.parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_the_same_packages_in_another_virtualenv_are_context_not_a_cause(tmp_path: Path) -> None:
    tape_path = tmp_path / "tape.duckdb"
    other = _other_venv(tmp_path)
    a, b = _record(sys.executable, tape_path), _record(other, tape_path)
    tape = tracetape.open(tape_path)
    try:
        runs = tape.runs().set_index("run_id")
        env_a, env_b = runs.environment_id[a], runs.environment_id[b]
        by_run, by_environment = tape.diff(a, b), tape.diff(env_a, env_b)
    finally:
        tape.close()

    assert env_a != env_b  # the snapshots differ ...
    for result in (by_run, by_environment):
        assert result.causes == [] and result.effects == []  # ... by no cause
        (context,) = result.context
        assert context == ContextChange(
            field="python.executable", value_a=sys.executable, value_b=str(other)
        )
        assert result.is_empty
        assert "context (informational, not causes)" in result.text(width=200)
