"""Dependency cycles that would leave queued tickets waiting forever.

Only waits between unfinished tickets can deadlock: a cycle through a done or closed
ticket is already satisfied. The cycles themselves come from the tickets library
(:meth:`~yoi.tickets.lifecycle.Graph.cycles`, one per strongly connected group); each
ticket of a group is then named with a cycle through itself, so no member of a tangle
is left to wait without being told why.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from yoi.tickets.lifecycle import Graph
from yoi.tickets.model import Relation, RelationKind, State

__all__ = ["Cycle", "deadlocks"]

_WAITS = (RelationKind.DEPENDS_ON, RelationKind.BLOCKS)

Cycle = tuple[str, ...]
"""The ids along a cycle, each waiting for the next and the last for the first."""


def deadlocks(
    relations: Mapping[str, Iterable[Relation]], states: Mapping[str, State]
) -> tuple[dict[str, Cycle], tuple[Cycle, ...]]:
    """A cycle through each ticket that waits in one, and one cycle per tangle."""
    live: dict[str, tuple[Relation, ...]] = {}
    edges: dict[str, set[str]] = {}
    backward: dict[str, set[str]] = {}
    unfinished = {ticket_id for ticket_id, state in states.items() if not state.finished}
    for owner, owned in relations.items():
        if owner not in unfinished:
            continue
        kept = tuple(r for r in owned if r.kind in _WAITS and r.target in unfinished)
        if kept:
            live[owner] = kept
        for relation in kept:
            waiting, awaited = _wait(relation)
            edges.setdefault(waiting, set()).add(awaited)
            backward.setdefault(awaited, set()).add(waiting)
    if not live:
        return {}, ()
    cycles = tuple(tuple(cycle) for cycle in Graph(live, states).cycles())
    through: dict[str, Cycle] = {}
    for cycle in cycles:
        members = _reach(edges, cycle[0]) & _reach(backward, cycle[0])
        for member in sorted(members):
            through[member] = _cycle_through(member, members, edges)
    return through, cycles


def _wait(relation: Relation) -> tuple[str, str]:
    """``(waiting, awaited)``: ``A depends_on B`` and ``B blocks A`` both make A wait for B."""
    if relation.kind is RelationKind.DEPENDS_ON:
        return relation.ticket_id, relation.target
    return relation.target, relation.ticket_id


def _reach(edges: Mapping[str, set[str]], start: str) -> set[str]:
    seen = {start}
    queue = deque([start])
    while queue:
        for following in edges.get(queue.popleft(), ()):
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def _cycle_through(start: str, members: set[str], edges: Mapping[str, set[str]]) -> Cycle:
    """The shortest cycle from ``start`` back to itself inside its group (breadth first,
    ids in order, so the same graph always names the same cycle)."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for following in sorted(edges.get(node, ())):
            if following == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return tuple(reversed(path))
            if following in members and following not in parents:
                parents[following] = node
                queue.append(following)
    return (start,)
