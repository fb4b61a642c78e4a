"""The values of a ticket: its state, front matter, thread events, relations and plan records.

Plain frozen dataclasses; the file formats that hold them live in
``frontmatter``, ``thread``, ``relations`` and ``plans``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "EventKind",
    "Meta",
    "PlanKind",
    "PlanRecord",
    "Relation",
    "RelationKind",
    "ReviewStatus",
    "State",
    "ThreadEvent",
]


class State(StrEnum):
    PLANNING = "planning"
    READY = "ready"
    QUEUED = "queued"
    INPROGRESS = "inprogress"
    DONE = "done"
    CLOSED = "closed"

    @property
    def finished(self) -> bool:
        """Done (merged and validated) or closed (accepted by a person): it blocks nobody."""
        return self in (State.DONE, State.CLOSED)


class EventKind(StrEnum):
    CREATE = "create"
    COMMENT = "comment"
    PLAN = "plan"
    DECISION = "decision"
    IMPLEMENTATION_REPORT = "implementation_report"
    REVIEW = "review"
    STATE_CHANGED = "state_changed"
    INTAKE_SUMMARY = "intake_summary"
    CLOSE = "close"


class ReviewStatus(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"


class RelationKind(StrEnum):
    """Forward relations, in the order ``relations.json`` sorts them."""

    DEPENDS_ON = "depends_on"
    BLOCKS = "blocks"
    RELATED = "related"
    SUPERSEDES = "supersedes"
    DUPLICATE_OF = "duplicate_of"

    @property
    def inverse(self) -> str:
        """The derived name seen from the target; never stored."""
        return _INVERSES[self]

    @property
    def rank(self) -> int:
        return list(RelationKind).index(self)


_INVERSES = {
    RelationKind.DEPENDS_ON: "dependency_of",
    RelationKind.BLOCKS: "blocked_by",
    RelationKind.RELATED: "related",
    RelationKind.SUPERSEDES: "superseded_by",
    RelationKind.DUPLICATE_OF: "duplicated_by",
}


class PlanKind(StrEnum):
    BEFORE = "before"
    AFTER = "after"
    BLOCKED_BY = "blocked_by"
    BLOCKS = "blocks"
    CONFLICTS_WITH = "conflicts_with"
    DO_NOT_PARALLELIZE = "do_not_parallelize"
    WAITING_CAPACITY_NOTE = "waiting_capacity_note"
    ACCEPTED_PLAN = "accepted_plan"

    @property
    def needs_related_ticket(self) -> bool:
        return self not in (PlanKind.WAITING_CAPACITY_NOTE, PlanKind.ACCEPTED_PLAN)


@dataclass(frozen=True, slots=True)
class Meta:
    """The front matter of ``item.md``, read leniently (legacy fields already folded in)."""

    title: str
    state: State
    created_at: str
    updated_at: str
    assignee: str | None = None
    readiness: str | None = None
    risk_flags: tuple[str, ...] = ()
    queued_by: str | None = None
    queued_at: str | None = None
    priority: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadEvent:
    """One event block of ``thread.md``; ``attrs`` keeps every header attribute, known or not."""

    kind: str
    author: str
    at: str
    attrs: tuple[tuple[str, str], ...]
    heading: str | None
    body: str

    def attr(self, name: str) -> str | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Relation:
    ticket_id: str
    kind: RelationKind
    target: str
    note: str | None = None
    author: str | None = None
    at: str | None = None

    @property
    def sort_key(self) -> tuple[int, str]:
        return (self.kind.rank, self.target)


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: str
    ticket_id: str
    kind: PlanKind
    author: str
    at: str
    related_ticket: str | None = None
    note: str | None = None
    accepted_plan: dict[str, object] = field(default_factory=dict)
