"""A replay flushes what it recorded as it returns or raises; a flush that fails while
the replay raises never hides the replay's own error."""

from __future__ import annotations

import asyncio

import pytest

from tracetape.errors import FlushError
from tracetape.replay.session import Source, aflushed, flushed


class Flushes:
    def __init__(self, fail: bool = False) -> None:
        self.count, self.fail = 0, fail

    def __call__(self) -> int:
        self.count += 1
        if self.fail:
            raise FlushError("3 spans could not be written")
        return 3


def source(flush: Flushes) -> Source:
    return Source(query=None, flush=flush, recorder=None, langchain=lambda: None)  # type: ignore[arg-type]


def test_the_block_is_flushed_as_it_returns_or_raises():
    flush = Flushes()
    with flushed(source(flush)):
        pass
    with pytest.raises(KeyError), flushed(source(flush)):
        raise KeyError("the app failed")
    assert flush.count == 2


def test_a_failed_flush_is_a_note_on_the_replays_own_error():
    with pytest.raises(KeyError) as caught, flushed(source(Flushes(fail=True))):
        raise KeyError("the app failed")
    assert caught.value.__notes__ == [
        "tracetape: the replay's spans could not be flushed: 3 spans could not be written"
    ]
    with pytest.raises(FlushError), flushed(source(Flushes(fail=True))):
        pass  # nothing else went wrong: the flush's own error is raised


def test_async_replays_flush_the_same_way():
    flush = Flushes()

    async def run() -> None:
        async with aflushed(source(flush)):
            pass
        with pytest.raises(KeyError):
            async with aflushed(source(flush)):
                raise KeyError("the app failed")

    asyncio.run(run())
    assert flush.count == 2
