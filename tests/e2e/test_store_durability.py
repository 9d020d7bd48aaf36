"""Nothing recorded is lost: flush errors, bursts, exits without flush, Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import tracetape
from tracetape.store import spool
from tracetape.tape import Tape


def _script(tmp_path: Path, source: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def _env(**extra: str) -> dict[str, str]:
    import os

    return {**os.environ, "TRACETAPE_STRICT": "1", **extra}


def _names(path: Path) -> list[str]:
    tape = tracetape.open(path)
    try:
        return tape.sql("SELECT name FROM spans ORDER BY name").name.tolist()
    finally:
        tape.close()


def test_flush_counts_raises_while_the_spool_is_unwritable_and_then_writes_all(
    tape: Tape,
) -> None:
    for i in range(10):
        with tracetape.span(f"a{i}"):
            pass
    assert tape.flush() == 10
    spans_dir = spool.spool_dir(tape.path) / "spans"
    shutil.rmtree(spans_dir)
    spans_dir.write_text("a file where the spool folder should be")

    for i in range(20):
        with tracetape.span(f"b{i}"):
            pass
    with pytest.raises(tracetape.FlushError, match=r"20 spans could not be written"):
        tape.flush()
    with pytest.raises(tracetape.FlushError):
        tape.flush()  # still broken: still refused, still kept

    spans_dir.unlink()
    assert tape.flush() == 20
    assert tape.flush() == 0
    names = tape.sql("SELECT name FROM spans").name.tolist()
    assert sorted(names) == sorted([f"a{i}" for i in range(10)] + [f"b{i}" for i in range(20)])


@pytest.mark.slow
def test_a_burst_of_100000_spans_spills_to_disk_and_loses_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACETAPE_QUEUE_SPANS", "1000")
    tape = tracetape.open(tmp_path / "tape.duckdb")
    tracer = tape.recorder.tracer

    def burst(worker: int) -> None:
        for i in range(25_000):
            tracer.start_span(f"w{worker}", attributes={"i": i, "text": "x" * 64}).end()

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert tape.flush() == 100_000
    assert tape._processor.spilled > 0  # pyright: ignore[reportPrivateUsage]
    counts = tape.sql(
        "SELECT count(*) AS n, count(DISTINCT span_id) AS d, "
        "count(DISTINCT (name, attributes->>'i')) AS k FROM spans"
    )
    assert counts.to_dict("records") == [{"n": 100_000, "d": 100_000, "k": 100_000}]
    tape.close()


_RECORD_AND_EXIT = """
    import sys
    import tracetape

    keep = sys.argv[2] == "keep"
    tape = tracetape.open(sys.argv[1]) if keep else None
    if not keep:
        tracetape.open(sys.argv[1])  # nobody keeps a reference to the tape
    for t in range(50):
        with tracetape.span(f"trace-{t:03d}"):
            for j in range(9):
                with tracetape.span(f"trace-{t:03d}-step-{j}"):
                    pass
    # no flush, no close: the interpreter's exit must write them
"""


@pytest.mark.slow
@pytest.mark.parametrize("reference", ["keep", "drop"])
def test_a_script_that_exits_without_flushing_loses_nothing(tmp_path: Path, reference: str) -> None:
    path = tmp_path / "tape.duckdb"
    script = _script(tmp_path, _RECORD_AND_EXIT)

    done = subprocess.run(
        [sys.executable, str(script), str(path), reference],
        env=_env(TRACETAPE_FLUSH_INTERVAL="60"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "tracetape" not in done.stderr
    names = _names(path)
    assert len(names) == 500
    assert len(set(names)) == 500


_RECORD_UNTIL_INTERRUPTED = """
    import sys
    import tracetape

    tape = tracetape.open(sys.argv[1])
    i = 0
    while True:
        with tracetape.span(f"step-{i:07d}"):
            pass
        i += 1
        if i == 300:
            print("ready", flush=True)
"""


@pytest.mark.slow
def test_a_script_interrupted_by_ctrl_c_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    script = _script(tmp_path, _RECORD_UNTIL_INTERRUPTED)
    # A small queue, so the recording thread itself is often writing when Ctrl-C lands.
    process = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        env=_env(TRACETAPE_QUEUE_SPANS="64", TRACETAPE_BATCH_SPANS="32"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)

    assert "KeyboardInterrupt" in stderr
    assert "could not be written" not in stderr
    names = _names(path)
    assert len(names) >= 300
    # Every span up to the interrupted one, none missing in between.
    assert names == [f"step-{i:07d}" for i in range(len(names))]
