"""The tickets and board API: the workspace's ``.yoi/tickets/`` through the backend's store.

Each handler parses, makes one call on the :class:`~yoi.tickets.TicketStore`
and wraps the answer in the projection the CLI's ``--json`` prints. The store
works on files under a lock that may be held for a moment by the CLI or
another writer, so every call runs in a worker thread, never on the event
loop. Its errors are already the API's (``ticket_not_found``,
``state_conflict``, ...); they only pass the backend's scrubber on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from yoi.backend.markdown import render_markdown
from yoi.backend.routes import Served
from yoi.backend.service import Backend
from yoi.backend.ticket_schemas import (
    BoardBody,
    CloseBody,
    CommentBody,
    EventBody,
    QueueBody,
    ReadyBody,
    ReadyViewBody,
    RelationBody,
    RelationCreateBody,
    ReviewBody,
    TicketBody,
    TicketCreateBody,
    TicketDetailBody,
    TicketListingBody,
    TransitionBody,
)
from yoi.errors import UnsupportedOperation, YoiError
from yoi.server.schemas import ErrorBody
from yoi.tickets import Meta, State, TicketDetail, TicketStore, TicketSummary
from yoi.tickets.ids import ticket_id as canonical_id
from yoi.tickets.relations import relation_dict
from yoi.tickets.wire import (
    board_dict,
    detail_dict,
    event_dict,
    listing_dict,
    ready_dict,
    summary_dict,
)

__all__ = ["MAX_LIMIT", "router"]

MAX_LIMIT = 1000
"""The most tickets one listing (or one board column) returns."""

T = TypeVar("T")

_DESCRIBED = {
    400: "invalid request or ticket id",
    401: "unauthorized",
    403: "forbidden origin",
    404: "no such ticket",
    409: "the move is not allowed now: invalid, blocked, stale, a duplicate or a cycle",
    413: "a text over the ticket limit",
    415: "not JSON",
    422: "the ticket's files cannot be read",
    500: "internal",
    501: "this backend has no ticket store",
    503: "another writer holds the ticket store lock",
    507: "the disk has no room for the change; nothing was changed",
}
_READS = (501, 503)
_ONE = (404, 422, *_READS)
_WRITES = (409, 413, 415, 507, *_ONE)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    found: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": _DESCRIBED[status]}
        for status in (400, 401, 403, 500, *statuses)
    }
    found["4XX"] = {"model": ErrorBody, "description": "any other client error"}
    return found


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]

router = APIRouter(prefix="/api", tags=["tickets"])


async def _run(backend: Backend, call: Callable[[TicketStore], T]) -> T:
    """``call`` on the backend's store, in a worker thread; its errors scrubbed."""
    store = backend.tickets
    if store is None:
        raise UnsupportedOperation("this backend has no ticket store")
    try:
        return await anyio.to_thread.run_sync(call, store)
    except YoiError as error:
        raise backend.registry.scrubber.error(error) from None


def _rendered(detail: TicketDetail) -> dict[str, object]:
    resolution = detail.resolution
    return {
        "body": render_markdown(detail.body),
        "events": [render_markdown(event.body) for event in detail.events],
        "resolution": None if resolution is None else render_markdown(resolution),
    }


def _author(backend: Backend, given: str | None) -> str:
    return backend.ticket_author if given is None else given


def _ticket(ticket_id: str, meta: Meta) -> JSONResponse:
    """The ticket under its canonical id, however the path spelled it (``00001kvzkste2``)."""
    return JSONResponse({"ticket": summary_dict(TicketSummary(canonical_id(ticket_id), meta))})


@router.get("/tickets", response_model=TicketListingBody, responses=_errors(*_READS))
async def list_tickets(
    backend: Served,
    state: State | Literal["all"] | None = None,
    limit: Limit = 100,
    q: Annotated[str | None, Query(max_length=300, description="in the title or id")] = None,
) -> JSONResponse:
    chosen = state if isinstance(state, State) else None
    listing = await _run(backend, lambda s: s.listing(state=chosen, query=q, limit=limit))
    return JSONResponse({"tickets": listing_dict(listing)})


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketBody,
    responses=_errors(413, 415, 507, *_READS),
)
async def create_ticket(backend: Served, body: TicketCreateBody) -> JSONResponse:
    author = _author(backend, body.author)
    created = await _run(backend, lambda s: s.create(body.title, body.body, author=author))
    return JSONResponse({"ticket": summary_dict(created)}, status_code=201)


@router.get("/tickets/ready", response_model=ReadyViewBody, responses=_errors(*_READS))
async def ready_view(backend: Served) -> JSONResponse:
    """Queued tickets with no blocker, in queue order (the orchestrator's input), and the rest."""
    return JSONResponse({"ready": ready_dict(await _run(backend, TicketStore.ready))})


@router.get("/board", response_model=BoardBody, responses=_errors(*_READS))
async def board(backend: Served, limit: Limit = 200) -> JSONResponse:
    """Every state's column with its count; at most ``limit`` cards in each."""
    shown = await _run(backend, lambda s: s.board(limit=limit))
    return JSONResponse({"board": board_dict(shown)})


@router.get("/tickets/{ticket_id}", response_model=TicketDetailBody, responses=_errors(*_ONE))
async def get_ticket(
    backend: Served, ticket_id: str, render: Literal["html"] | None = None
) -> JSONResponse:
    """The ticket in full; ``render=html`` adds its Markdown as HTML safe to show (``html``)."""
    detail = await _run(backend, lambda s: s.get(ticket_id))
    body = detail_dict(detail)
    if render == "html":
        body["html"] = await anyio.to_thread.run_sync(_rendered, detail)
    return JSONResponse({"ticket": body})


@router.post(
    "/tickets/{ticket_id}/comments",
    status_code=201,
    response_model=EventBody,
    responses=_errors(*_WRITES),
)
async def comment(backend: Served, ticket_id: str, body: CommentBody) -> JSONResponse:
    author = _author(backend, body.author)
    event = await _run(
        backend, lambda s: s.comment(ticket_id, body.body, author=author, role=body.kind)
    )
    return JSONResponse({"event": event_dict(event)}, status_code=201)


@router.post(
    "/tickets/{ticket_id}/review",
    status_code=201,
    response_model=EventBody,
    responses=_errors(*_WRITES),
)
async def review(backend: Served, ticket_id: str, body: ReviewBody) -> JSONResponse:
    author = _author(backend, body.author)
    event = await _run(
        backend, lambda s: s.review(ticket_id, body.status, body.body, author=author)
    )
    return JSONResponse({"event": event_dict(event)}, status_code=201)


@router.post("/tickets/{ticket_id}/ready", response_model=TicketBody, responses=_errors(*_WRITES))
async def mark_ready(backend: Served, ticket_id: str, body: ReadyBody) -> JSONResponse:
    """planning → ready, with the intake summary (a default one when none is given)."""
    author = _author(backend, body.author)
    meta = await _run(
        backend,
        lambda s: s.move(
            ticket_id, State.READY, author=author, expected=body.expected, summary=body.summary
        ),
    )
    return _ticket(ticket_id, meta)


@router.post("/tickets/{ticket_id}/queue", response_model=TicketBody, responses=_errors(*_WRITES))
async def queue(backend: Served, ticket_id: str, body: QueueBody) -> JSONResponse:
    """ready → queued: the human gate that lets the orchestrator take the ticket."""
    author = _author(backend, body.author)
    meta = await _run(
        backend, lambda s: s.move(ticket_id, State.QUEUED, author=author, expected=body.expected)
    )
    return _ticket(ticket_id, meta)


@router.post(
    "/tickets/{ticket_id}/transitions", response_model=TicketBody, responses=_errors(*_WRITES)
)
async def transition(backend: Served, ticket_id: str, body: TransitionBody) -> JSONResponse:
    target = body.target()
    author = _author(backend, body.author)
    meta = await _run(
        backend,
        lambda s: s.move(
            ticket_id,
            target,
            author=author,
            expected=body.expected,
            reason=body.reason,
            summary=body.summary,
        ),
    )
    return _ticket(ticket_id, meta)


@router.post("/tickets/{ticket_id}/close", response_model=TicketBody, responses=_errors(*_WRITES))
async def close(backend: Served, ticket_id: str, body: CloseBody) -> JSONResponse:
    author = _author(backend, body.author)
    meta = await _run(
        backend,
        lambda s: s.move(
            ticket_id,
            State.CLOSED,
            author=author,
            expected=body.expected,
            resolution=body.resolution,
        ),
    )
    return _ticket(ticket_id, meta)


@router.post(
    "/tickets/{ticket_id}/relations",
    status_code=201,
    response_model=RelationBody,
    responses=_errors(*_WRITES),
)
async def add_relation(backend: Served, ticket_id: str, body: RelationCreateBody) -> JSONResponse:
    author = _author(backend, body.author)
    relation = await _run(
        backend,
        lambda s: s.add_relation(ticket_id, body.kind, body.target, author=author, note=body.note),
    )
    return JSONResponse({"relation": relation_dict(relation)}, status_code=201)
