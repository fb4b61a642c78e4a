"""The ticket lifecycle and the blocker rules, as pure functions over values.

::

    planning → ready → queued → inprogress → done
        ↑        │       │
        └────────┴───────┘          any state → closed

``ready → queued`` is the human gate that authorizes the orchestrator.
``done`` (merged and validated) and ``closed`` (accepted by a person) stay
distinct. The blockers of T are its ``depends_on`` targets and the tickets
that ``blocks`` it, while they are neither done nor closed; a missing ticket
counts as ``planning``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from yoi.errors import InvalidTransition, TicketBlocked
from yoi.tickets.model import Relation, RelationKind, State

__all__ = [
    "ALLOWED",
    "Action",
    "Asks",
    "Blocker",
    "Graph",
    "Inverse",
    "Notice",
    "actions_for",
    "check_move",
]

ALLOWED: Mapping[State, frozenset[State]] = {
    State.PLANNING: frozenset({State.READY, State.CLOSED}),
    State.READY: frozenset({State.QUEUED, State.PLANNING, State.CLOSED}),
    State.QUEUED: frozenset({State.INPROGRESS, State.PLANNING, State.CLOSED}),
    State.INPROGRESS: frozenset({State.DONE, State.PLANNING, State.CLOSED}),
    State.DONE: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
_WAITING = frozenset({State.QUEUED, State.INPROGRESS})


def check_move(source: State, target: State) -> None:
    """Raise ``invalid_transition`` naming the allowed path unless ``source → target`` is a move."""
    if target in ALLOWED[source]:
        return
    if source is State.CLOSED:
        message = "a closed ticket stays closed"
    elif source is target:
        message = f"the ticket is already {source}"
    else:
        route = " → ".join(state.value for state in _route(source, target))
        onward = ", ".join(sorted(state.value for state in ALLOWED[source]))
        message = f"{source} → {target} is not a move; from {source} a ticket goes to {onward}"
        if route:
            message += f"; the way to {target} is {route}"
    raise InvalidTransition(message, details={"from": source.value, "to": target.value})


def _route(source: State, target: State) -> list[State]:
    paths: deque[list[State]] = deque([[source]])
    seen = {source}
    while paths:
        path = paths.popleft()
        if path[-1] is target:
            return path
        for following in sorted(ALLOWED[path[-1]] - seen):
            seen.add(following)
            paths.append([*path, following])
    return []


@dataclass(frozen=True, slots=True)
class Blocker:
    """A ticket T waits for: ``via`` is ``depends_on`` (T's relation) or ``blocks`` (theirs)."""

    ticket_id: str
    state: State
    via: str


@dataclass(frozen=True, slots=True)
class Inverse:
    """A relation seen from its target: ``ticket_id`` holds ``kind`` toward us."""

    ticket_id: str
    kind: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    ticket_id: str
    message: str


class Graph:
    """Every ticket's forward relations and state, with the derived inverses."""

    def __init__(
        self, relations: Mapping[str, Sequence[Relation]], states: Mapping[str, State]
    ) -> None:
        self._forward = relations
        self._states = states
        self._incoming: dict[str, list[Relation]] = {}
        for owned in relations.values():
            for relation in owned:
                self._incoming.setdefault(relation.target, []).append(relation)

    def state(self, ticket_id: str) -> State:
        return self._states.get(ticket_id, State.PLANNING)

    def forward(self, ticket_id: str) -> Sequence[Relation]:
        return self._forward.get(ticket_id, ())

    def inverses(self, ticket_id: str) -> list[Inverse]:
        incoming = sorted(
            self._incoming.get(ticket_id, ()), key=lambda r: (r.kind.rank, r.ticket_id)
        )
        return [Inverse(r.ticket_id, r.kind.inverse, r.note) for r in incoming]

    def blockers(self, ticket_id: str) -> list[Blocker]:
        found: dict[str, Blocker] = {}
        for relation in self.forward(ticket_id):
            if relation.kind is RelationKind.DEPENDS_ON:
                self._consider(found, relation.target, "depends_on")
        for relation in self._incoming.get(ticket_id, ()):
            if relation.kind is RelationKind.BLOCKS:
                self._consider(found, relation.ticket_id, "blocks")
        return sorted(found.values(), key=lambda blocker: blocker.ticket_id)

    def _consider(self, found: dict[str, Blocker], other: str, via: str) -> None:
        state = self.state(other)
        if not state.finished and other not in found:
            found[other] = Blocker(other, state, via)

    def notices(self, ticket_id: str) -> list[Notice]:
        notices = [_notice(r.kind.value, r.target) for r in self.forward(ticket_id)]
        incoming = self._incoming.get(ticket_id, ())
        notices += [_notice(r.kind.inverse, r.ticket_id) for r in incoming]
        return [notice for notice in notices if notice is not None]

    def check_queue(self, ticket_id: str) -> None:
        """Queueing waits on nothing but tickets that are themselves queued or in progress."""
        waiting = [b for b in self.blockers(ticket_id) if b.state not in _WAITING]
        if waiting:
            raise _blocked(ticket_id, "cannot be queued", waiting)

    def check_start(self, ticket_id: str) -> None:
        blockers = self.blockers(ticket_id)
        if blockers:
            raise _blocked(ticket_id, "cannot start", blockers)

    def cycles(self) -> list[list[str]]:
        """Each ``depends_on``/``blocks`` cycle once, as the ids along it."""
        edges: dict[str, set[str]] = {}
        for owned in self._forward.values():
            for relation in owned:
                if relation.kind is RelationKind.DEPENDS_ON:
                    edges.setdefault(relation.ticket_id, set()).add(relation.target)
                elif relation.kind is RelationKind.BLOCKS:
                    edges.setdefault(relation.target, set()).add(relation.ticket_id)
        return [_cycle_in(component, edges) for component in _components(edges)]


@dataclass(frozen=True, slots=True)
class Asks:
    """The text an action needs from the person: the request field it goes in, and its wording."""

    field: str
    label: str
    hint: str


@dataclass(frozen=True, slots=True)
class Action:
    """Something a person may do to a ticket now, as the front ends offer it.

    ``verb`` is the ticket's API route (``/api/tickets/{id}/{verb}``) and
    ``body`` the request body without the asked text; ``blocked`` actions are
    shown but refused, ``lead`` and ``blockers`` say why (or, for a queue that
    will wait, for whom).
    """

    name: str
    label: str
    verb: str
    body: Mapping[str, str]
    asks: Asks | None = None
    emphasis: str | None = None
    blocked: bool = False
    lead: str | None = None
    blockers: tuple[Blocker, ...] = ()

    @property
    def reason(self) -> str | None:
        if self.lead is None:
            return None
        names = ", ".join(f"{b.ticket_id} ({b.state})" for b in self.blockers)
        return f"{self.lead} {names}"


_SUMMARY = Asks(
    "summary",
    "Intake summary",
    "What the ticket asks for and how to tell it is done; it goes in the thread.",
)
_RESOLUTION = Asks(
    "resolution", "Resolution", "How the ticket ended; it is written to resolution.md."
)
_REVIEW = Asks("body", "Review", "What the review found; it goes in the thread.")
_COMMENT = Asks("body", "Add a comment", "It goes in the thread.")
_MOVES: Mapping[State, tuple[str, ...]] = {
    State.PLANNING: ("ready", "close"),
    State.READY: ("queue", "planning", "close"),
    State.QUEUED: ("start", "planning", "close"),
    State.INPROGRESS: ("done", "approve", "request_changes", "close"),
    State.DONE: ("approve", "request_changes", "close"),
    State.CLOSED: (),
}


def actions_for(state: State, blockers: Sequence[Blocker]) -> tuple[Action, ...]:
    """What a person may do now to a ticket in ``state`` waiting for ``blockers``, in button order.

    The moves follow :data:`ALLOWED` and the blocker rules of
    :meth:`Graph.check_queue` and :meth:`Graph.check_start`; a comment is always possible.
    """
    moves = tuple(_action(name, state, tuple(blockers)) for name in _MOVES[state])
    return (*moves, Action("comment", "Comment", "comments", {}, asks=_COMMENT))


def _action(name: str, state: State, blockers: tuple[Blocker, ...]) -> Action:
    here = {"from": state.value}
    match name:
        case "ready":
            return Action(name, "Mark ready", "ready", here, _SUMMARY, "primary")
        case "queue":
            return _queue(here, blockers)
        case "planning":
            return Action(name, "Return to planning", "transitions", {**here, "to": "planning"})
        case "start":
            started = Action(name, "Start", "transitions", {**here, "to": "inprogress"})
            return _held(started, "Blocked by", blockers) if blockers else started
        case "done":
            return Action(name, "Mark done", "transitions", {**here, "to": "done"}, None, "primary")
        case "approve":
            return Action(name, "Approve", "review", {"status": "approve"}, _REVIEW)
        case "request_changes":
            return Action(name, "Request changes", "review", {"status": name}, _REVIEW)
        case _:
            return Action("close", "Close", "close", here, _RESOLUTION, "danger")


def _queue(here: Mapping[str, str], blockers: tuple[Blocker, ...]) -> Action:
    queue = Action("queue", "Queue", "queue", here, None, "primary")
    stopping = tuple(b for b in blockers if b.state not in _WAITING)
    if stopping:
        return _held(queue, "Blocked by", stopping)
    if blockers:
        return replace(queue, lead="Will wait for", blockers=blockers)
    return queue


def _held(action: Action, lead: str, blockers: tuple[Blocker, ...]) -> Action:
    return replace(action, blocked=True, lead=lead, blockers=blockers)


def _notice(kind: str, other: str) -> Notice | None:
    wording = {
        "supersedes": f"supersedes {other}",
        "superseded_by": f"is superseded by {other}",
        "duplicate_of": f"duplicates {other}",
        "duplicated_by": f"is duplicated by {other}",
    }.get(kind)
    return None if wording is None else Notice(kind, other, f"this ticket {wording}")


def _blocked(ticket_id: str, what: str, blockers: Iterable[Blocker]) -> TicketBlocked:
    listed = list(blockers)
    names = ", ".join(f"{b.ticket_id} ({b.state})" for b in listed)
    return TicketBlocked(
        f"{ticket_id} {what}: it waits for {names}",
        details={"blockers": [{"ticket_id": b.ticket_id, "state": b.state.value} for b in listed]},
    )


def _components(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with a cycle (Tarjan, iterative), in id order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    found.append(_pop_component(node, stack, on_stack))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [sorted(c) for c in found if len(c) > 1 or c[0] in edges.get(c[0], ())]


def _pop_component(node: str, stack: list[str], on_stack: set[str]) -> list[str]:
    component: list[str] = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
            return component


def _cycle_in(component: list[str], edges: Mapping[str, set[str]]) -> list[str]:
    """One cycle through the component's smallest id, found breadth-first."""
    start = component[0]
    members = set(component)
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(edges.get(node, ())):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [*reversed(path)]
            if child in members and child not in parents:
                parents[child] = node
                queue.append(child)
    return component
