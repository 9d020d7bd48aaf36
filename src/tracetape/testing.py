"""Public pytest plugin: a real tape on ``tmp_path``, strict error handling.

Installed as a ``pytest11`` entry point; use the ``tape`` fixture in your own tests:

    def test_my_agent(tape):
        graph.invoke(x, config={"callbacks": [tape.langchain()]})
        tape.flush()
        assert tape.sql("select count(*) from spans where kind = 'tool'").iloc[0, 0] == 2
"""

from __future__ import annotations

from collections.abc import Iterator
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
