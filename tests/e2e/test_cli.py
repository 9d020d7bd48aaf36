"""``tracetape ls | show | sql`` over a recorded tape, and their one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracetape.cli.main import main
from tracetape.demo import record

SCRIPT = Path(sys.executable).parent / "tracetape"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    run = record(tmp_path_factory.mktemp("cli") / "tape.duckdb")
    return run.path, run.trace_ids


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("TRACETAPE_PATH", raising=False)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_ls_lists_newest_first(recorded, capsys):
    path, ids = recorded
    code, out, _ = cli(capsys, "ls", "--path", str(path))
    assert code == 0
    assert [out.index(i) for i in reversed(ids)] == sorted(out.index(i) for i in ids)
    assert "support-agent" in out and "tracetape-demo-1" in out
    assert "→" in out  # tokens as input→output
    assert "3/2" in out and "error" in out


def test_ls_errors_and_limit(recorded, capsys):
    path, ids = recorded
    _, out, _ = cli(capsys, "--path", str(path), "ls", "--errors")
    assert ids[2] in out and ids[0] not in out and ids[1] not in out
    _, out, _ = cli(capsys, "ls", "--path", str(path), "--limit", "1")
    assert ids[2] in out and ids[0] not in out


def test_ls_reads_tracetape_path(recorded, capsys, monkeypatch):
    path, ids = recorded
    monkeypatch.setenv("TRACETAPE_PATH", str(path))
    code, out, _ = cli(capsys, "ls")
    assert code == 0 and ids[0] in out


def test_show_tree_and_full(recorded, capsys):
    path, ids = recorded
    code, out, _ = cli(capsys, "show", ids[0], "--path", str(path))
    assert code == 0
    assert f"trace {ids[0]}" in out
    for line in ("support-agent  graph", "ChatPromptTemplate  prompt", "calculator  tool"):
        assert line in out
    assert "VectorStoreRetriever  retriever" in out
    assert "input:" not in out
    _, full, _ = cli(capsys, "show", ids[0][:10], "--path", str(path), "--full")
    assert "input:" in full and "output:" in full
    assert "Shipping to Canada takes 5 to 7 business days" in full


def test_show_highlights_the_error(recorded, capsys):
    path, ids = recorded
    _, out, _ = cli(capsys, "show", ids[2], "--path", str(path))
    assert "1 error" in out
    assert "lookup_order  tool" in out
    assert "✗ tracetape.demo.tools.OrderNotFoundError: no order 'Z-9999'" in out


def test_sql_prints_a_table(recorded, capsys):
    path, ids = recorded
    code, out, _ = cli(
        capsys,
        "sql",
        "--path",
        str(path),
        f"select kind, name, tool_name from spans where trace_id = '{ids[1]}' and kind = 'tool'",
    )
    assert code == 0
    assert "lookup_order" in out and "1 row" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "0" * 32], "error: no trace '00000000000000000000000000000000'"),
        (["sql", "selec 1"], "SQL error: Parser Error"),
        (["sql", "select * from nowhere"], "SQL error: Catalog Error"),
        (["sql", "create table x (a int)"], "SQL error:"),
    ],
)
def test_user_errors_exit_2_with_one_line(recorded, capsys, args, message):
    path, _ = recorded
    code, out, err = cli(capsys, "--path", str(path), *args)
    assert code == 2
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and out == ""


def test_missing_tape_exits_2(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "tape.duckdb"
    for args in (["ls"], ["show", "abc"], ["sql", "select 1"]):
        code, _, err = cli(capsys, *args, "--path", str(missing))
        assert code == 2
        assert (
            err.strip() == f"error: no tape at {missing} (record one first, e.g. `tracetape demo`)"
        )
    assert not missing.exists()


def _script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        timeout=120,
    )


def test_console_script_errors_have_no_traceback(recorded, tmp_path):
    path, _ = recorded
    done = _script("show", "deadbeef", "--path", str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip() == f"error: no trace 'deadbeef' on {path}"
    done = _script("sql", "select nope from spans", "--path", str(path))
    assert done.returncode == 2 and done.stderr.startswith("SQL error: Binder Error")
    done = _script("ls", "--path", str(tmp_path / "missing.duckdb"))
    assert done.returncode == 2 and done.stderr.startswith("error: no tape at")
    done = _script("frobnicate")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_locked_tape_exits_2(recorded):
    path, _ = recorded
    # Another process holds the DuckDB file read-write until its stdin closes.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read(); con.close()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = _script("ls", "--path", str(path), TRACETAPE_LOCK_TIMEOUT="0.2")
        assert done.returncode == 2
        assert done.stderr.startswith(f"error: {path} is held by another process")
        assert "Traceback" not in done.stderr
    finally:
        holder.communicate(timeout=60)  # closes stdin (releasing the file) and stdout
