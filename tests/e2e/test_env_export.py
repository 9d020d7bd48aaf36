"""``tracetape env export ID``: a recorded environment as a pinned requirements file."""

from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

import pytest

import tracetape
from tracetape.cli.main import main
from tracetape.tape import Tape

PINNED = re.compile(r"^[a-z0-9][a-z0-9._-]*==\S+$")


def _export(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["env", "export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_run_environment_exports_as_pinned_requirements(
    tape: Tape, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tape.run("nightly") as run, tracetape.span("step"):
        pass
    tape.flush()
    snapshot = tape.environment(run.environment_id)
    out_file = tmp_path / "requirements.txt"

    code, said, _ = _export(capsys, run.run_id, "--out", str(out_file), "--path", str(tape.path))

    assert code == 0
    assert str(out_file) in said and str(run.environment_id) in said
    lines = out_file.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    pins = [line for line in lines if not line.startswith("#")]
    assert lines[: len(header)] == header  # the header comes first
    assert header[0] == f"# Pinned by tracetape from environment {run.environment_id}"
    assert f"# python {platform.python_version()} (CPython)" in header
    commit = snapshot["git"]["commit"]
    if commit:  # the suite runs in a checkout, but a source tarball has no git
        assert any(line.startswith(f"# git commit {commit}") for line in header)
    assert all(PINNED.match(line) for line in pins), pins
    names = [line.split("==")[0] for line in pins]
    assert names == sorted(names)
    assert f"pytest=={importlib.metadata.version('pytest')}" in pins
    assert f"duckdb=={importlib.metadata.version('duckdb')}" in pins
    # tracetape itself (here an editable install) is named in a comment, not pinned.
    assert not any(line.startswith("tracetape==") for line in pins)
    assert any(line.startswith("# tracetape==") for line in header)


def test_any_id_names_its_environment(tape: Tape, capsys: pytest.CaptureFixture[str]) -> None:
    with tape.run("r") as run, tracetape.span("step"):
        pass
    tape.flush()
    span = tape.sql("SELECT trace_id, span_id FROM spans").iloc[0]
    path = str(tape.path)

    printed = {_export(capsys, key, "--path", path)[1] for key in (
        str(run.environment_id), run.run_id, span.trace_id, span.trace_id[:8], span.span_id,
    )}  # fmt: skip

    assert len(printed) == 1
    assert next(iter(printed)).startswith(
        f"# Pinned by tracetape from environment {run.environment_id}"
    )


def test_an_unknown_id_is_a_one_line_error(tape: Tape, capsys: pytest.CaptureFixture[str]) -> None:
    with tape.run("r"):
        pass

    code, out, err = _export(
        capsys, "run-00000000000000000000000000000000", "--path", str(tape.path)
    )
    assert (code, out) == (2, "")
    assert "no environment recorded for" in err
    code, _, err = _export(capsys, "env-0000000000000000", "--path", str(tape.path))
    assert code == 2 and "no environment 'env-0000000000000000'" in err
