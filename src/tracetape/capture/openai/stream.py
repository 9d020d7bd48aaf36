"""Streams of chunks that record what passes through them, then end their call's span.

`TracedStream` / `TracedAsyncStream` stand in for the SDK's ``Stream`` / ``AsyncStream``:
every chunk passes through unchanged (and ``isinstance(s, openai.Stream)`` still holds),
other attributes (``response``, ...) are the wrapped stream's. The span ends when the
stream is exhausted (the response, usage included), when the SDK raises mid-stream (an
error span; the exception reaches the user unchanged), or when the user closes it,
leaves its ``with`` block, breaks out of the loop or drops it (what arrived so far,
marked incomplete).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from tracetape._safety import boundary
from tracetape.capture.openai.call import ModelCall
from tracetape.capture.openai.chunks import ChunkAccumulator


class _Traced:
    """What both stream kinds share: the wrapped stream, the call, the chunks seen."""

    def __init__(self, stream: Any, call: ModelCall) -> None:
        self._tt_stream = stream
        self._tt_call = call
        self._tt_chunks = ChunkAccumulator()

    @property
    def __class__(self) -> type[Any]:  # pyright: ignore[reportIncompatibleMethodOverride]
        # isinstance(stream, openai.Stream) keeps holding for the user's code.
        return type(self._tt_stream)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_tt_"):
            raise AttributeError(name)
        return getattr(self._tt_stream, name)

    def __repr__(self) -> str:
        return repr(self._tt_stream)

    def _tt_take(self, chunk: Any) -> None:
        with boundary("openai.stream.chunk"):
            if self._tt_chunks.add(chunk):
                self._tt_call.first_token()

    def _tt_done(self) -> None:
        with boundary("openai.stream.end"):
            self._tt_call.succeed(self._tt_chunks.completion())

    def _tt_failed(self, error: BaseException) -> None:
        with boundary("openai.stream.error"):
            self._tt_call.fail(error, self._tt_chunks.completion())

    def _tt_stopped(self) -> None:
        with boundary("openai.stream.stop"):
            self._tt_call.stop_early(self._tt_chunks.completion())

    def __del__(self) -> None:
        # Dropped without being read to the end or closed: end the span all the same.
        call = self.__dict__.get("_tt_call")
        if isinstance(call, ModelCall):
            self._tt_stopped()


class TracedStream(_Traced):
    """A recorded ``openai.Stream[ChatCompletionChunk]``."""

    def __init__(self, stream: Any, call: ModelCall) -> None:
        super().__init__(stream, call)
        self._tt_iterator = self._tt_traced()

    def _tt_traced(self) -> Iterator[Any]:
        try:
            for chunk in self._tt_stream:
                self._tt_take(chunk)
                yield chunk
        except Exception as exc:
            self._tt_failed(exc)
            raise
        except BaseException:  # GeneratorExit (dropped), KeyboardInterrupt
            self._tt_stopped()
            raise
        self._tt_done()

    def __next__(self) -> Any:
        return next(self._tt_iterator)

    def __iter__(self) -> Iterator[Any]:
        # A plain loop, not ``yield from``: leaving the user's loop must not close the
        # shared iterator, so the stream can be resumed, as the SDK's own Stream allows.
        try:
            for item in self._tt_iterator:  # noqa: UP028 - see above
                yield item
        except GeneratorExit:  # the user broke out of the loop
            self._tt_stopped()
            raise

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the response (releasing the connection) and end the span."""
        try:
            self._tt_stream.close()
        finally:
            self._tt_stopped()


class TracedAsyncStream(_Traced):
    """A recorded ``openai.AsyncStream[ChatCompletionChunk]``."""

    def __init__(self, stream: Any, call: ModelCall) -> None:
        super().__init__(stream, call)
        self._tt_iterator = self._tt_traced()

    async def _tt_traced(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self._tt_stream:
                self._tt_take(chunk)
                yield chunk
        except Exception as exc:
            self._tt_failed(exc)
            raise
        except BaseException:  # GeneratorExit (dropped), CancelledError
            self._tt_stopped()
            raise
        self._tt_done()

    async def __anext__(self) -> Any:
        return await self._tt_iterator.__anext__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        try:
            async for item in self._tt_iterator:
                yield item
        except GeneratorExit:  # the user broke out of the loop
            self._tt_stopped()
            raise

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the response (releasing the connection) and end the span."""
        try:
            await self._tt_stream.close()
        finally:
            self._tt_stopped()
