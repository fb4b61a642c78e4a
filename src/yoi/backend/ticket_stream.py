"""``/api/tickets/events/ws``: a browser hears that the tickets changed, and reloads what it shows.

Frames are ``{"kind": "tickets", "revision": N, "ticket_ids": [...] | null}``:
the first one at once (``ticket_ids`` null: load everything), then one per
change, coalesced when changes come faster than the client reads. There is
no cursor to resume: a client that reconnects reloads, as on its first frame.
Like the worker streams it is observation only (a client may send only
``{"kind": "ping"}``) and closes with 1001 when the backend shuts down.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from yoi.backend.service import Backend
from yoi.backend.ticket_feed import TicketChange, TicketFeed
from yoi.errors import UnsupportedOperation, YoiError
from yoi.server.envelope import error_response
from yoi.server.stream import serve_observer

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.websocket("/tickets/events/ws")
async def ticket_events(websocket: WebSocket) -> None:
    backend: Backend = websocket.app.state.backend
    feed = backend.ticket_feed
    if feed is None:
        denial = UnsupportedOperation("this backend has no ticket store")
        await websocket.send_denial_response(error_response(denial))
        return
    await websocket.accept()
    await serve_observer(
        websocket, _send(websocket, feed), going_away="the backend is shutting down"
    )


async def _send(websocket: WebSocket, feed: TicketFeed) -> YoiError | None:
    change: TicketChange | None = TicketChange(feed.revision, None)
    while change is not None:
        frame = {"kind": "tickets", "revision": change.revision, "ticket_ids": change.ticket_ids}
        try:
            await websocket.send_text(json.dumps(frame, separators=(",", ":")))
        except (WebSocketDisconnect, OSError, RuntimeError):
            await asyncio.Future()  # the peer is gone: the listener sees it
        change = await feed.wait(change.revision)
    return None
