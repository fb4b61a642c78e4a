"""``WS /api/orchestrator/events/ws``: the board hears every transition of every run.

Frames follow the observation stream's rules (ARCHITECTURE §4.4). Without a cursor the
first frame is a ``snapshot`` event carrying the whole status (``GET /api/orchestrator``)
and the cursor it is current to; then a ``transition`` event per phase change or gate move,
in order, none twice (:mod:`yoi.orchestrator.transitions`). ``?cursor=C`` resumes after C
with no snapshot. A cursor older than the kept log gets ``cursor_expired``, a malformed one
or one of another state ``invalid_cursor``: the client reconnects without one and resyncs
from the snapshot. A client may send only pings; one that falls behind gets
``slow_consumer`` and resumes by its cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import anyio.to_thread
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from yoi.backend.orchestration import Orchestration
from yoi.backend.service import Backend
from yoi.errors import InvalidRequest, UnsupportedOperation, YoiError
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.transitions import Transition
from yoi.server.connections import Backlog
from yoi.server.envelope import error_response
from yoi.server.stream import serve_observer

__all__ = ["router"]

router = APIRouter(prefix="/api")

_PAGE = 500
_RECHECK = 1.0


@router.websocket("/orchestrator/events/ws")
async def orchestrator_events(websocket: WebSocket, cursor: str | None = None) -> None:
    backend: Backend = websocket.app.state.backend
    orchestration = backend.orchestration
    orchestrator = orchestration.orchestrator
    if orchestrator is None:
        denial = UnsupportedOperation("the orchestrator is off in this backend")
        await websocket.send_denial_response(error_response(denial))
        return
    await websocket.accept()
    await serve_observer(
        websocket,
        _send(websocket, orchestration, orchestrator, cursor),
        going_away="the orchestrator is closing",
        scrub=backend.registry.scrubber.error,
    )


async def _send(
    websocket: WebSocket,
    orchestration: Orchestration,
    orchestrator: Orchestrator,
    cursor: str | None,
) -> YoiError | None:
    """Send the snapshot (or resume after ``cursor``), then every transition as it comes;
    the error that ends the stream, or None when the orchestrator closed."""
    backlog = Backlog.of(websocket.scope)
    try:
        after = cursor
        if after is None:
            head = orchestrator.position()  # before the status: nothing falls between
            status = await orchestration.status()
            snapshot: dict[str, object] = {"type": "snapshot", "status": status}
            await _frame(websocket, head.cursor, head.seq, time.time(), snapshot)
            after = head.cursor
        while True:
            changed = asyncio.ensure_future(orchestrator.changed())  # before the read
            changed.add_done_callback(_retrieved)
            batch = await anyio.to_thread.run_sync(_page, orchestrator, after)
            for transition in batch:
                if (overflow := await backlog.wait()) is not None:
                    return overflow
                event = transition.event()
                await _frame(websocket, transition.cursor, transition.seq, transition.at, event)
                after = transition.cursor
            if len(batch) < _PAGE:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_RECHECK):
                        await changed
            changed.cancel()
    except (WebSocketDisconnect, OSError, RuntimeError):
        await asyncio.Future()  # the peer is gone: the listener sees it and ends the stream
    except InvalidRequest as error:
        if error.code != "invalid_request":  # invalid_cursor: the client's to hear
            return error
        return None  # "the orchestrator is not open": it closed under us
    except YoiError as error:
        return error
    return None


def _retrieved(future: asyncio.Future[None]) -> None:
    """A wake-up's outcome is read here: one not awaited (a full page came) never warns."""
    if not future.cancelled():
        future.exception()


def _page(orchestrator: Orchestrator, after: str) -> list[Transition]:
    return orchestrator.transitions(after, limit=_PAGE)


async def _frame(
    websocket: WebSocket, cursor: str, seq: int, at: float, event: dict[str, object]
) -> None:
    frame = {"kind": "event", "cursor": cursor, "seq": seq, "at": at, "event": event}
    await websocket.send_text(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))
