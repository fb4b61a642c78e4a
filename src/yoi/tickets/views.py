"""What the store answers with: a ticket in full, listings, the ready view and the board."""

from __future__ import annotations

from dataclasses import dataclass

from yoi.tickets.index import Catalog
from yoi.tickets.lifecycle import Blocker, Graph, Inverse, Notice
from yoi.tickets.model import Meta, PlanRecord, Relation, State, ThreadEvent

__all__ = [
    "Board",
    "Card",
    "Column",
    "Listing",
    "ReadyView",
    "TicketDetail",
    "TicketSummary",
    "Waiting",
    "board_of",
    "listing_of",
    "ready_of",
]


@dataclass(frozen=True, slots=True)
class TicketSummary:
    id: str
    meta: Meta


@dataclass(frozen=True, slots=True)
class TicketDetail:
    id: str
    meta: Meta
    body: str
    events: tuple[ThreadEvent, ...]
    relations: tuple[Relation, ...]
    inverses: tuple[Inverse, ...]
    blockers: tuple[Blocker, ...]
    notices: tuple[Notice, ...]
    plans: tuple[PlanRecord, ...]
    artifacts: tuple[str, ...]
    resolution: str | None
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Listing:
    items: tuple[TicketSummary, ...]
    total: int
    invalid: dict[str, str]


@dataclass(frozen=True, slots=True)
class Waiting:
    ticket: TicketSummary
    blockers: tuple[Blocker, ...]


@dataclass(frozen=True, slots=True)
class ReadyView:
    """Queued tickets with no blocker, in queue order: the orchestrator's input."""

    ready: tuple[TicketSummary, ...]
    waiting: tuple[Waiting, ...]


@dataclass(frozen=True, slots=True)
class Card:
    ticket: TicketSummary
    blockers: tuple[Blocker, ...]


@dataclass(frozen=True, slots=True)
class Column:
    state: State
    count: int
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class Board:
    columns: tuple[Column, ...]
    invalid: dict[str, str]


def listing_of(
    catalog: Catalog, *, state: State | None, query: str | None, limit: int | None
) -> Listing:
    needle = (query or "").strip().casefold()
    matches = [
        TicketSummary(ticket_id, meta)
        for ticket_id, meta in sorted(catalog.metas.items())
        if (state is None or meta.state is state)
        and (not needle or needle in meta.title.casefold() or needle in ticket_id.casefold())
    ]
    shown = matches if limit is None else matches[:limit]
    return Listing(tuple(shown), len(matches), dict(catalog.invalid))


def ready_of(catalog: Catalog) -> ReadyView:
    graph = Graph(catalog.relations, catalog.states())
    queued = sorted(
        (meta.queued_at or "", ticket_id)
        for ticket_id, meta in catalog.metas.items()
        if meta.state is State.QUEUED
    )
    ready: list[TicketSummary] = []
    waiting: list[Waiting] = []
    for _, ticket_id in queued:
        summary = TicketSummary(ticket_id, catalog.metas[ticket_id])
        blockers = graph.blockers(ticket_id)
        if blockers:
            waiting.append(Waiting(summary, tuple(blockers)))
        else:
            ready.append(summary)
    return ReadyView(tuple(ready), tuple(waiting))


def board_of(catalog: Catalog, *, limit: int) -> Board:
    graph = Graph(catalog.relations, catalog.states())
    by_state: dict[State, list[str]] = {state: [] for state in State}
    for ticket_id, meta in sorted(catalog.metas.items()):
        by_state[meta.state].append(ticket_id)
    columns = []
    for state, ids in by_state.items():
        cards = tuple(
            Card(TicketSummary(i, catalog.metas[i]), tuple(graph.blockers(i))) for i in ids[:limit]
        )
        columns.append(Column(state, len(ids), cards))
    return Board(tuple(columns), dict(catalog.invalid))
