"""The backend's observation stream over WebSocket: a relay per client, with a bounded queue.

Refusals before the upgrade (an unknown runtime or worker, a runtime that
is down) come as HTTP responses with the error envelope. After the upgrade
the relay's frames go out through a queue of ``queue_size`` frames: a
client that falls that far behind, or leaves more than the server's bound
unread in its socket (:class:`~yoi.server.connections.Backlog`), gets
``slow_consumer`` (and resumes by its cursor), and never slows the relay for
anyone else. A client may send
only ``{"kind": "ping"}``.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from yoi.backend.relay import Relay
from yoi.backend.service import Backend
from yoi.errors import CursorExpired, InvalidCursor, SlowConsumer, YoiError
from yoi.runtime.frames import GOING_AWAY, diagnostic_frame
from yoi.server.connections import Backlog
from yoi.server.envelope import error_response
from yoi.server.stream import watch_client

__all__ = ["QUEUE_SIZE", "router"]

QUEUE_SIZE = 4096
router = APIRouter(prefix="/api")


@router.websocket("/runtimes/{runtime_id}/workers/{worker_id}/events/ws")
async def observe(
    websocket: WebSocket, runtime_id: str, worker_id: str, cursor: str | None = None
) -> None:
    backend: Backend = websocket.app.state.backend
    try:
        relay = await backend.relay(runtime_id, worker_id, cursor)
    except (CursorExpired, InvalidCursor) as error:
        await websocket.accept()
        await _end(websocket, error)
        return
    except YoiError as error:
        await websocket.send_denial_response(error_response(error))
        return
    try:
        await websocket.accept()
        ending = await _serve(websocket, relay, websocket.app.state.queue_size)
    finally:
        await relay.aclose()
    if ending is not None:
        await _end(websocket, backend.registry.scrubber.error(ending))


async def _serve(websocket: WebSocket, relay: Relay, size: int) -> YoiError | None:
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    tasks = {
        asyncio.create_task(_fill(relay, queue, size)),
        asyncio.create_task(_drain(websocket, queue)),
        asyncio.create_task(watch_client(websocket)),
    }
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return done.pop().result()


async def _fill(relay: Relay, queue: asyncio.Queue[str | None], size: int) -> YoiError | None:
    """Take the relay's frames into the client's queue; a full queue ends the stream."""
    try:
        async for frame in relay.frames():
            if queue.qsize() >= size:
                return SlowConsumer(
                    "the client fell behind and was disconnected; resume with its cursor"
                )
            queue.put_nowait(frame)
    except YoiError as error:
        await queue.join()  # what was relayed before the failure still goes out
        return error
    queue.put_nowait(None)
    await asyncio.Future()  # the drain ends the stream
    return None


async def _drain(websocket: WebSocket, queue: asyncio.Queue[str | None]) -> YoiError | None:
    """Send queued frames in order; the end of the relay closes with 1001."""
    backlog = Backlog.of(websocket.scope)
    try:
        while (frame := await queue.get()) is not None:
            if (overflow := await backlog.wait()) is not None:
                return overflow
            await websocket.send_text(frame)
            queue.task_done()
        await websocket.close(GOING_AWAY, "the backend is shutting down")
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    await asyncio.Future()  # the peer is gone: the listener sees it and ends the stream
    return None


async def _end(websocket: WebSocket, error: YoiError) -> None:
    text, code = diagnostic_frame(error)
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await websocket.send_text(text)
        await websocket.close(code, error.code)
