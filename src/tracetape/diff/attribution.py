"""Group effects under the causes that plausibly produced them.

The rule, in order, for an effect found at step position *p* of aligned trace *t*:

1. **Same step.** A cause found at the same step owns it: other documents under the
   retriever config change of that retrieval, a model call's other output under that
   call's model swap, a prompt's other rendering under its template edit.
2. **Inside.** Otherwise the earliest cause found at a step that ran inside it owns it:
   a node that failed after the prompt edit of its own model call.
3. **Earliest upstream.** Otherwise the earliest cause found before *p* in the same
   trace owns it: from the first point where the two runs were set up differently,
   everything later may be its consequence (so a final output goes under the earliest
   step cause, not under the latest one).
4. **Environment.** Otherwise, if the environment differs, the environment changes
   (together: which package did it cannot be told from the recording).
5. **Unexplained.** Otherwise no recorded cause explains it (a model that answered the
   same request differently, a tool whose world changed): a group with no cause.

Effects of the run as a whole (its status) go under the earliest step cause of any
trace; a trace only one run has, under the environment or unexplained. The same cause
found in several steps or traces (one prompt edit seen in every question of an eval
run) is one cause, located where it was first found. Causes keep pipeline order:
environment first, then by where each was first found.

Effects a cause implies (a template edit's renderings with the same variables' values,
`Found.implied`) go to the cause at their step too, as ``Group.implied``, and a
`PromptChange` counts them (``rendered_prompts`` in ``rendered_traces`` trace pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tracetape.diff.causes import PromptChange
from tracetape.diff.changes import NOWHERE, Change, Group
from tracetape.diff.effects import TraceChange
from tracetape.diff.traces import Located


def _distinct(causes: Sequence[Located]) -> list[tuple[Change, list[Located]]]:
    # Keyed by repr without the location: a change may hold lists (stop sequences, GPUs),
    # so is not hashable; and one cause is found in many places.
    merged: dict[str, tuple[Change, list[Located]]] = {}
    for found in sorted(causes, key=lambda c: (c.trace or 0, c.position)):
        key = repr(replace(found.change, location=NOWHERE))
        merged.setdefault(key, (found.change, []))[1].append(found)
    return list(merged.values())


def _counted(cause: Change, implied: list[Change]) -> Change:
    """``cause`` with the renderings it implies counted on it (a template edit)."""
    if not isinstance(cause, PromptChange) or not implied:
        return cause
    traces = {effect.location.pair for effect in implied}
    return replace(cause, rendered_prompts=len(implied), rendered_traces=len(traces))


def _owner(effect: Located, causes: list[tuple[Change, list[Located]]]) -> int | None:
    """The index of the cause that owns ``effect``, if any."""
    if isinstance(effect.change, TraceChange):
        return None
    if effect.trace is None:  # the run as a whole
        return 0 if causes else None
    same = [
        i
        for i, (_, where) in enumerate(causes)
        if any(w.trace == effect.trace and w.position == effect.position for w in where)
    ]
    if same:
        return same[0]
    inside = [
        (w.position, i)
        for i, (_, where) in enumerate(causes)
        for w in where
        if w.trace == effect.trace and w.position in effect.within
    ]
    if inside:
        return min(inside)[1]
    upstream = [
        (w.position, i)
        for i, (_, where) in enumerate(causes)
        for w in where
        if w.trace == effect.trace and w.position < effect.position
    ]
    return min(upstream)[1] if upstream else None


def attribute(
    environment: Sequence[Change],
    causes: Sequence[Located],
    effects: Sequence[Located],
    implied: Sequence[Located] = (),
) -> tuple[Group, ...]:
    """Groups of causes with their effects, in pipeline order; unexplained effects last.
    ``implied``: effects a cause at their step implies, counted on it, not listed."""
    distinct = _distinct(causes)
    owned: list[list[Change]] = [[] for _ in distinct]
    folded: list[list[Change]] = [[] for _ in distinct]
    from_environment: list[Change] = []
    unexplained: list[Change] = []
    for effect in implied:
        owner = _owner(effect, distinct)
        assert owner is not None  # found only beside a cause at its step
        folded[owner].append(effect.change)
    for effect in effects:
        owner = _owner(effect, distinct)
        if owner is not None:
            owned[owner].append(effect.change)
        elif environment:
            from_environment.append(effect.change)
        else:
            unexplained.append(effect.change)
    groups: list[Group] = []
    if environment:
        groups.append(Group(tuple(environment), tuple(from_environment)))
    groups.extend(
        Group((_counted(cause, folded[i]),), tuple(owned[i]), tuple(folded[i]))
        for i, (cause, _) in enumerate(distinct)
    )
    if unexplained:
        groups.append(Group((), tuple(unexplained)))
    return tuple(groups)
