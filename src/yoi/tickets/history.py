"""A ticket's state history as its thread tells it, and the events that contradict it.

Replayed in file order from ``planning``, each ``state_changed`` event must
start where the events before it left the ticket, and a current-format one
(``field: state``) must be a move the lifecycle allows. The store appends
under a lock after a compare-and-set, so it never writes an event that
fails this: one that does was put there by hand, or forged inside the body
of another event by a tool that splits lines differently. A ``close`` event
closes. After an event that starts elsewhere, the replay follows it (a gap
is one finding, not one per later event); an impossible move is not
followed. Two tolerances keep real upstream threads clean: the legacy state
``intake`` is ``planning``, and an exact repeat of the move just before it
is a race between two writers of a lockless version, not a contradiction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yoi.tickets.lifecycle import ALLOWED
from yoi.tickets.model import EventKind, State, ThreadEvent

__all__ = ["Contradiction", "History", "replay"]

_ALIASES = {"intake": State.PLANNING.value}


@dataclass(frozen=True, slots=True)
class Contradiction:
    """A ``state_changed`` event out of place; ``message`` completes "the event at AT ..."."""

    at: str
    message: str


@dataclass(frozen=True, slots=True)
class History:
    state: str | None
    """Where the events leave the ticket; ``None`` when none of them changes its state."""
    contradictions: tuple[Contradiction, ...]


def replay(events: Sequence[ThreadEvent]) -> History:
    reached = State.PLANNING.value
    moved = False
    previous: tuple[str, str] | None = None
    found: list[Contradiction] = []
    for event in events:
        if event.kind == EventKind.CLOSE.value:
            reached, moved = State.CLOSED.value, True
            continue
        move = _move(event)
        if move is None:
            continue
        source, target = move
        if source != reached and move != previous:
            message = f"moves from {source}, but the events before it left the ticket {reached}"
            found.append(Contradiction(event.at, message))
        elif event.attr("field") == "state" and not _allowed(source, target):
            message = f"moves {source} → {target}, which is not a move of the lifecycle"
            found.append(Contradiction(event.at, message))
            continue  # an impossible move took the ticket nowhere
        reached, moved, previous = target, True, move
    return History(reached if moved else None, tuple(found))


def _move(event: ThreadEvent) -> tuple[str, str] | None:
    if event.kind != EventKind.STATE_CHANGED.value:
        return None
    source, target = event.attr("from"), event.attr("to")
    if not source or not target:
        return None  # incomplete: the doctor reports it on its own
    return _ALIASES.get(source, source), _ALIASES.get(target, target)


def _allowed(source: str, target: str) -> bool:
    try:
        return State(target) in ALLOWED[State(source)]
    except ValueError:
        return False
