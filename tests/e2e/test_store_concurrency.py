"""Several processes on one tape: writers, readers, forks, and a notebook holding the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import tracetape

pytestmark = pytest.mark.slow


def _script(tmp_path: Path, source: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TRACETAPE_STRICT": "1", **extra}


def _finish(process: subprocess.Popen[str]) -> str:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    return stdout


_WRITER = """
    import sys
    import time
    from pathlib import Path

    import tracetape

    path, who, traces = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tape = tracetape.open(path)
    ready = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    deadline = time.monotonic() + 60
    while ready is not None and not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # the reader has read once: the writes below overlap its reads
    for t in range(traces):
        with tracetape.span(f"{who}-{t:04d}", attributes={"who": who}):
            for j in range(9):
                with tracetape.span(f"{who}-{t:04d}-{j}", kind="tool"):
                    pass
        if t % 15 == 14:
            tape.flush()  # spool, then fold if nobody else holds the file
    tape.close()
"""

_READER = """
    import json
    import sys
    from pathlib import Path

    import tracetape

    path, stop, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    tape = tracetape.open(path)
    reads, highest, problems = 0, 0, []
    while True:
        last = stop.exists()
        row = tape.sql(
            "SELECT count(*) AS n, count(DISTINCT span_id) AS d, "
            "(SELECT coalesce(sum(n_spans), 0) FROM traces) AS t FROM spans"
        ).iloc[0]
        n, d, t = int(row.n), int(row.d), int(row.t)
        reads += 1
        if n != d or n != t:
            problems.append(f"read {reads}: {n} rows, {d} distinct, {t} in traces")
        if n < highest:
            problems.append(f"read {reads}: {n} rows after {highest}")
        highest = max(highest, n)
        ready.touch()
        if last:
            break
    print(json.dumps({"reads": reads, "final": highest, "problems": problems}))
"""


def test_two_recording_processes_and_a_reader_find_every_span(tmp_path: Path) -> None:
    path = tmp_path / "tape.duckdb"
    stop = tmp_path / "writers-done"
    writer = _script(tmp_path, _WRITER, "writer.py")
    reader = _script(tmp_path, _READER, "reader.py")
    traces = 150

    ready = tmp_path / "reader-reading"
    writers = [
        subprocess.Popen(
            [sys.executable, str(writer), str(path), who, str(traces), str(ready)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    reading = subprocess.Popen(
        [sys.executable, str(reader), str(path), str(stop), str(ready)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for process in writers:
        _finish(process)
    stop.touch()
    report = json.loads(_finish(reading))

    assert report["problems"] == []
    assert report["reads"] > 1
    assert report["final"] == 2 * traces * 10
    tape = tracetape.open(path)
    names = tape.sql("SELECT name FROM spans").name.tolist()
    expected = {
        f"{who}-{t:04d}{suffix}"
        for who in ("a", "b")
        for t in range(traces)
        for suffix in ["", *(f"-{j}" for j in range(9))]
    }
    assert len(names) == len(expected)
    assert set(names) == expected
    trace_rows = tape.sql("SELECT n_spans, n_tool FROM traces")
    assert len(trace_rows) == 2 * traces
    assert set(trace_rows.n_spans) == {10}
    assert set(trace_rows.n_tool) == {9}
    tape.close()


_NOTEBOOK = """
    import sys
    import duckdb

    con = duckdb.connect(sys.argv[1])  # read-write, as a notebook session would
    con.execute("SELECT count(*) FROM _spans").fetchall()
    print("holding", flush=True)
    sys.stdin.readline()
    con.close()
"""


def test_a_tape_held_by_another_process_delays_folds_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tape.duckdb"
    monkeypatch.setenv("TRACETAPE_LOCK_TIMEOUT", "0.3")
    first = tracetape.open(path)
    with tracetape.span("before-the-notebook"):
        pass
    assert first.flush() == 1
    first.close()
    notebook = subprocess.Popen(
        [sys.executable, str(_script(tmp_path, _NOTEBOOK, "notebook.py")), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert notebook.stdout is not None
        assert notebook.stdout.readline().strip() == "holding"

        tape = tracetape.open(path)  # does not wait for the notebook
        for i in range(100):
            with tracetape.span(f"while-held-{i}"):
                pass
        assert tape.flush() == 100
        with pytest.raises(tracetape.TapeLockedError, match="held by another process"):
            tape.sql("SELECT count(*) FROM spans")
        tape.close()  # the fold is deferred, not failed
    finally:
        assert notebook.stdin is not None
        notebook.stdin.write("\n")
        notebook.stdin.flush()
        _finish(notebook)

    reader = tracetape.open(path)
    assert reader.sql("SELECT count(*) AS n FROM spans").n[0] == 101
    con = duckdb.connect(str(path), read_only=True)
    folded = con.execute("SELECT count(*) FROM _spans").fetchone()
    con.close()
    assert folded == (1,)  # the 100 wait in the spool, visible all the same
    reader.flush()  # folds now that the file is free
    assert reader.sql("SELECT count(*) AS n FROM spans").n[0] == 101
    con = duckdb.connect(str(path), read_only=True)
    folded = con.execute("SELECT count(*) FROM _spans").fetchone()
    con.close()
    assert folded == (101,)
    reader.close()


_FORKING = """
    import os
    import sys
    import tracetape

    tape = tracetape.open(sys.argv[1])
    for i in range(10):
        with tracetape.span(f"parent-before-{i}"):
            pass
    assert tape._processor.pending() == 10  # still queued when the process forks

    flushing = os.fork()
    if flushing == 0:
        for i in range(10):
            with tracetape.span(f"child-flush-{i}"):
                pass
        assert tape.flush() == 10
        os._exit(0)

    exiting = os.fork()
    if exiting == 0:
        for i in range(10):
            with tracetape.span(f"child-exit-{i}"):
                pass
        sys.exit(0)  # atexit writes them

    for pid in (flushing, exiting):
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    for i in range(10):
        with tracetape.span(f"parent-after-{i}"):
            pass
"""

_MULTIPROCESSING = """
    import multiprocessing
    import sys
    import tracetape


    def work(n):
        for i in range(3):
            with tracetape.span(f"task-{n}-{i}"):
                pass
        return n


    if __name__ == "__main__":
        tape = tracetape.open(sys.argv[1])
        with tracetape.span("parent-before"):
            pass
        ctx = multiprocessing.get_context("fork")
        workers = [ctx.Process(target=work, args=(n,)) for n in range(3)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
            assert p.exitcode == 0
        pool = ctx.Pool(2)
        assert sorted(pool.map(work, range(10, 16))) == list(range(10, 16))
        pool.close()
        pool.join()
"""


@pytest.mark.parametrize("kind", ["os.fork", "multiprocessing"])
def test_forked_workers_keep_recording_and_never_repeat_the_parents_spans(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "tape.duckdb"
    source = _FORKING if kind == "os.fork" else _MULTIPROCESSING
    script = _script(tmp_path, source, "forking.py")

    done = subprocess.run(
        [sys.executable, str(script), str(path)],
        env=_env(TRACETAPE_FLUSH_INTERVAL="60"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    tape = tracetape.open(path)
    names = tape.sql("SELECT name FROM spans").name.tolist()
    tape.close()
    if kind == "os.fork":
        expected = [
            f"{who}-{i}"
            for who in ("parent-before", "child-flush", "child-exit", "parent-after")
            for i in range(10)
        ]
    else:
        tasks = [*range(3), *range(10, 16)]
        expected = ["parent-before", *(f"task-{n}-{i}" for n in tasks for i in range(3))]
    assert sorted(names) == sorted(expected)
