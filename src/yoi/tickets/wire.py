"""Tickets as JSON: the one projection the CLI's ``--json`` and the backend API both print."""

from __future__ import annotations

from yoi.tickets.lifecycle import Action, Blocker, Inverse, Notice, actions_for
from yoi.tickets.model import Meta, RelationKind, State, ThreadEvent
from yoi.tickets.plans import plan_dict
from yoi.tickets.relations import relation_dict
from yoi.tickets.views import Board, Listing, ReadyView, TicketDetail, TicketSummary

__all__ = [
    "STATE_LABELS",
    "action_dict",
    "blocker_dict",
    "board_dict",
    "detail_dict",
    "event_dict",
    "listing_dict",
    "meta_dict",
    "ready_dict",
    "summary_dict",
]

JSON = dict[str, object]

STATE_LABELS = {
    State.PLANNING: "Planning",
    State.READY: "Ready",
    State.QUEUED: "Queued",
    State.INPROGRESS: "In progress",
    State.DONE: "Done",
    State.CLOSED: "Closed",
}


def meta_dict(meta: Meta) -> JSON:
    return {
        "title": meta.title,
        "state": meta.state.value,
        "created_at": meta.created_at,
        "updated_at": meta.updated_at,
        "assignee": meta.assignee,
        "readiness": meta.readiness,
        "risk_flags": list(meta.risk_flags),
        "queued_by": meta.queued_by,
        "queued_at": meta.queued_at,
        "priority": meta.priority,
    }


def summary_dict(summary: TicketSummary) -> JSON:
    return {"id": summary.id, **meta_dict(summary.meta)}


def event_dict(event: ThreadEvent) -> JSON:
    return {
        "kind": event.kind,
        "author": event.author,
        "at": event.at,
        "attrs": dict(event.attrs),
        "heading": event.heading,
        "body": event.body,
    }


def blocker_dict(blocker: Blocker) -> JSON:
    return {"ticket_id": blocker.ticket_id, "state": blocker.state.value, "via": blocker.via}


def action_dict(ticket_id: str, action: Action) -> JSON:
    """An action as a front end renders it: ``POST endpoint`` with ``body`` and the asked text."""
    asks = action.asks
    return {
        "name": action.name,
        "label": action.label,
        "method": "POST",
        "endpoint": f"/api/tickets/{ticket_id}/{action.verb}",
        "body": dict(action.body),
        "asks": None
        if asks is None
        else {"field": asks.field, "label": asks.label, "hint": asks.hint},
        "emphasis": action.emphasis,
        "blocked": action.blocked,
        "reason": action.reason,
        "lead": action.lead,
        "blockers": [blocker_dict(b) for b in action.blockers],
    }


def _actions(ticket_id: str, state: State, blockers: tuple[Blocker, ...]) -> list[JSON]:
    return [action_dict(ticket_id, action) for action in actions_for(state, blockers)]


def _inverse_dict(inverse: Inverse) -> JSON:
    return {"ticket_id": inverse.ticket_id, "kind": inverse.kind, "note": inverse.note}


def _notice_dict(notice: Notice) -> JSON:
    return {"kind": notice.kind, "ticket_id": notice.ticket_id, "message": notice.message}


def detail_dict(detail: TicketDetail) -> JSON:
    return {
        "id": detail.id,
        "meta": meta_dict(detail.meta),
        "body": detail.body,
        "events": [event_dict(event) for event in detail.events],
        "relations": {
            "outgoing": [relation_dict(relation) for relation in detail.relations],
            "incoming": [_inverse_dict(inverse) for inverse in detail.inverses],
        },
        "blockers": [blocker_dict(blocker) for blocker in detail.blockers],
        "actions": _actions(detail.id, detail.meta.state, detail.blockers),
        "notices": [_notice_dict(notice) for notice in detail.notices],
        "plans": [plan_dict(record) for record in detail.plans],
        "artifacts": list(detail.artifacts),
        "resolution": detail.resolution,
        "problems": list(detail.problems),
    }


def _invalid(records: dict[str, str]) -> list[JSON]:
    return [{"id": key, "problem": problem} for key, problem in sorted(records.items())]


def listing_dict(listing: Listing) -> JSON:
    return {
        "items": [summary_dict(item) for item in listing.items],
        "total": listing.total,
        "returned": len(listing.items),
        "invalid_records": _invalid(listing.invalid),
    }


def ready_dict(view: ReadyView) -> JSON:
    return {
        "ready": [summary_dict(item) for item in view.ready],
        "waiting": [
            {
                "ticket": summary_dict(entry.ticket),
                "blockers": [blocker_dict(b) for b in entry.blockers],
            }
            for entry in view.waiting
        ],
    }


def board_dict(board: Board) -> JSON:
    columns = [
        {
            "state": column.state.value,
            "label": STATE_LABELS[column.state],
            "count": column.count,
            "cards": [
                {
                    **summary_dict(card.ticket),
                    "blockers": [blocker_dict(b) for b in card.blockers],
                    "actions": _actions(card.ticket.id, column.state, card.blockers),
                }
                for card in column.cards
            ],
        }
        for column in board.columns
    ]
    return {
        "columns": columns,
        "invalid_records": _invalid(board.invalid),
        "relation_kinds": [kind.value for kind in RelationKind],
    }
