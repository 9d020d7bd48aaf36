"""Embedding vectors as a replay payload: exact, compact, cheap to write.

A vector of 1536 numbers is ~30 KB as JSON numbers and costs ~0.3 ms to format; as
little-endian float64 in base64 it is ~16 KB, exact, and ~20x cheaper. `pack` keeps one
vector or a list of equally long ones, up to `MAX_NUMBERS` (a query or a few documents:
a corpus is embedded again by a replay); `unpack` gives back the lists they were.
"""

from __future__ import annotations

import base64
import itertools
import sys
from array import array
from typing import Any

MAX_NUMBERS = 65_536
"""Numbers of one call's vectors kept at most (42 vectors of 1536 dimensions, ~700 KB)."""


def pack(result: Any) -> dict[str, Any] | None:
    """``result`` (a vector, or a list of equally long ones) as a JSON-ready dict; None
    when it is too big or not plain numbers."""
    if not isinstance(result, list):
        return None
    nested = bool(result) and isinstance(result[0], list)
    rows: list[Any] = result if nested else [result]  # pyright: ignore[reportUnknownVariableType]
    width = len(rows[0]) if rows and isinstance(rows[0], list) else 0  # pyright: ignore[reportUnknownArgumentType]
    if len(rows) * width > MAX_NUMBERS or any(
        not isinstance(row, list) or len(row) != width  # pyright: ignore[reportUnknownArgumentType]
        for row in rows
    ):
        return None
    try:
        numbers = array("d", itertools.chain.from_iterable(rows))
    except TypeError:  # not numbers
        return None
    if sys.byteorder == "big":  # pragma: no cover - stored little-endian everywhere
        numbers.byteswap()
    shape = [len(rows), width] if nested else [width]
    data = base64.b64encode(numbers.tobytes()).decode("ascii")
    return {"dtype": "<f8", "shape": shape, "data": data}


def unpack(stored: Any) -> list[Any]:
    """The vectors `pack` kept (as parsed JSON), as the lists they were."""
    numbers = array("d")
    numbers.frombytes(base64.b64decode(stored["data"]))
    if sys.byteorder == "big":  # pragma: no cover
        numbers.byteswap()
    flat = numbers.tolist()
    shape = stored["shape"]
    if len(shape) == 1:
        return flat
    width = int(shape[1])
    return [flat[i * width : (i + 1) * width] for i in range(int(shape[0]))]
