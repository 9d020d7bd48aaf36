"""Align two sequences (steps of two traces, traces of two runs) by signature.

``difflib.SequenceMatcher`` finds the longest matching runs of signatures; items in
them pair up, the rest are only on one side. Within a replaced block nothing pairs (a
tool call that became another tool call is one step removed and one added) unless
``pair_replaced``: then they pair in order (a run's traces whose question was edited
are still the same slot of the run).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from difflib import SequenceMatcher
from typing import TypeVar

T = TypeVar("T")


def align(
    a: Sequence[T],
    b: Sequence[T],
    signature: Callable[[T], Hashable],
    *,
    pair_replaced: bool = False,
) -> list[tuple[T | None, T | None]]:
    """Pairs ``(item of a, item of b)`` in order; ``None`` on the side that lacks it.

    Example:
        >>> align("abc", "acd", str)
        [('a', 'a'), ('b', None), ('c', 'c'), (None, 'd')]
    """
    matcher = SequenceMatcher(
        a=[signature(x) for x in a], b=[signature(y) for y in b], autojunk=False
    )
    pairs: list[tuple[T | None, T | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(zip(a[i1:i2], b[j1:j2], strict=True))
            continue
        if tag == "replace" and pair_replaced:
            paired = min(i2 - i1, j2 - j1)
            pairs.extend(zip(a[i1 : i1 + paired], b[j1 : j1 + paired], strict=True))
            i1, j1 = i1 + paired, j1 + paired
        pairs.extend((x, None) for x in a[i1:i2])
        pairs.extend((None, y) for y in b[j1:j2])
    return pairs
