"""Tickets: project work as plain files under ``.yoi/tickets/``, in the original yoi format.

The store reads every ticket the original yoi wrote and writes byte for byte
what it would: ``item.md`` front matter, the append-only ``thread.md``,
``artifacts/relations.json`` and ``orchestration-plan.jsonl``, and
``resolution.md``. Changes are compare-and-set moves under one lock, so the
CLI, the backend and people's scripts can write at once.
"""

from yoi.tickets.config import TicketConfig
from yoi.tickets.lifecycle import Blocker, Inverse, Notice
from yoi.tickets.model import (
    EventKind,
    Meta,
    PlanKind,
    PlanRecord,
    Relation,
    RelationKind,
    ReviewStatus,
    State,
    ThreadEvent,
)
from yoi.tickets.store import COMMENT_ROLES, TicketStore
from yoi.tickets.texts import Language
from yoi.tickets.views import (
    Board,
    Card,
    Column,
    Listing,
    ReadyView,
    TicketDetail,
    TicketSummary,
    Waiting,
)

__all__ = [
    "COMMENT_ROLES",
    "Blocker",
    "Board",
    "Card",
    "Column",
    "EventKind",
    "Inverse",
    "Language",
    "Listing",
    "Meta",
    "Notice",
    "PlanKind",
    "PlanRecord",
    "ReadyView",
    "Relation",
    "RelationKind",
    "ReviewStatus",
    "State",
    "ThreadEvent",
    "TicketConfig",
    "TicketDetail",
    "TicketStore",
    "TicketSummary",
    "Waiting",
]
