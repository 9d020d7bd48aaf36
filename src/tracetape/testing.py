"""Public pytest plugin: a real tape on ``tmp_path``, and recorded traces as fixtures.

Installed as a ``pytest11`` entry point; use the ``tape`` fixture in your own tests:

    def test_my_agent(tape):
        graph.invoke(x, config={"callbacks": [tape.langchain()]})
        tape.flush()
        assert tape.sql("select count(*) from spans where kind = 'tool'").iloc[0, 0] == 2

A good (or a fixed bad) run becomes a regression test: export its trace once as a small
tape file, keep it with the tests, and replay the app against it in each run. No
provider is contacted; a divergence fails the test with a diff of what changed:

    tape.export("tests/fixtures/refund.duckdb", "tape", traces=[trace_id])  # once

    def test_the_refund_answer_still_replays(tape_from):
        fixture = tape_from("tests/fixtures/refund.duckdb")
        assert fixture.replay(TRACE_ID, app=build_agent()).same_output
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tracetape.tape import Tape


@pytest.fixture
def tape(tmp_path: Path) -> Iterator[Tape]:
    """A fresh tape in ``tmp_path``, closed (flushed) after the test."""
    import tracetape

    opened = tracetape.open(tmp_path / "tape.duckdb")
    try:
        yield opened
    finally:
        tracetape.uninstrument()
        opened.close()


@pytest.fixture
def tape_from(tmp_path: Path) -> Iterator[Callable[[str | Path], Tape]]:
    """Opens a copy of a tape file in ``tmp_path``: replays record into the copy, so the
    fixture file itself is never written. Each copy is closed after the test."""
    import tracetape
    from tracetape.store.spool import spool_dir

    opened: list[Tape] = []

    def open_copy(source: str | Path) -> Tape:
        source = Path(source)
        if not source.is_file():
            raise FileNotFoundError(f"no tape at {source} (export one with format='tape')")
        copy = tmp_path / f"{source.stem}-{len(opened)}{source.suffix}"
        shutil.copy2(source, copy)
        wal = source.with_name(source.name + ".wal")
        if wal.is_file():  # a tape last written by a process that did not close it
            shutil.copy2(wal, copy.with_name(copy.name + ".wal"))
        if spool_dir(source).is_dir():  # spans a recording process has not folded yet
            shutil.copytree(spool_dir(source), spool_dir(copy))
        opened.append(tracetape.open(copy))
        return opened[-1]

    try:
        yield open_copy
    finally:
        tracetape.uninstrument()
        for fixture in opened:
            fixture.close()
