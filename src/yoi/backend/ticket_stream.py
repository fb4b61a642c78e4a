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
import contextlib
import json

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from yoi.backend.service import Backend
from yoi.backend.ticket_feed import TicketChange, TicketFeed
from yoi.errors import UnsupportedOperation
from yoi.runtime.frames import GOING_AWAY, diagnostic_frame
from yoi.server.envelope import error_response
from yoi.server.stream import watch_client

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
    sender = asyncio.create_task(_send(websocket, feed))
    listener = asyncio.create_task(watch_client(websocket))
    done, pending = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    problem = listener.result() if listener in done else None
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        if problem is not None:
            text, code = diagnostic_frame(problem)
            await websocket.send_text(text)
            await websocket.close(code, problem.code)
        elif sender in done:
            await websocket.close(GOING_AWAY, "the backend is shutting down")


async def _send(websocket: WebSocket, feed: TicketFeed) -> None:
    change: TicketChange | None = TicketChange(feed.revision, None)
    while change is not None:
        frame = {"kind": "tickets", "revision": change.revision, "ticket_ids": change.ticket_ids}
        try:
            await websocket.send_text(json.dumps(frame, separators=(",", ":")))
        except (WebSocketDisconnect, OSError, RuntimeError):
            await asyncio.Future()  # the peer is gone: the listener sees it
        change = await feed.wait(change.revision)
