"""The observation stream over WebSocket (ARCHITECTURE §4.4).

An unknown or unusable worker is refused before the upgrade with its HTTP
status. After the upgrade, the runtime's subscription is pumped to the socket
as event frames while the client side is read for the only frames it may
send (pings); anything else ends the stream with a diagnostic. A subscriber
that falls behind gets ``slow_consumer`` and never slows anyone else: when its
runtime subscription overflows, or when it leaves more than the server's
bound unread (:class:`~yoi.server.connections.Backlog`), which kernel socket
buffers would otherwise hide until a ping timed out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from yoi.errors import (
    CursorExpired,
    InvalidCursor,
    ObservationOnly,
    YoiError,
)
from yoi.runtime import Event, Runtime, Subscription
from yoi.runtime.frames import GOING_AWAY, diagnostic_frame, event_frame, is_client_ping
from yoi.server.connections import Backlog
from yoi.server.envelope import error_response

__all__ = ["FrameCache", "router", "serve_observer", "watch_client"]

router = APIRouter(prefix="/v1")


class FrameCache:
    """The frame texts of recent events, so that many subscribers encode an event once.

    Every subscriber of a worker is handed the same :class:`Event` object; the
    cache holds that object, so its ``id`` cannot be reused while cached.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._frames: OrderedDict[int, tuple[Event, str]] = OrderedDict()

    def frame(self, event: Event) -> str:
        hit = self._frames.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        text = event_frame(event)
        self._frames[id(event)] = (event, text)
        if len(self._frames) > self._size:
            self._frames.popitem(last=False)
        return text


@router.websocket("/workers/{worker_id}/events/ws")
async def observe(websocket: WebSocket, worker_id: str, cursor: str | None = None) -> None:
    runtime: Runtime = websocket.app.state.runtime
    try:
        subscription = await runtime.subscribe(worker_id, cursor)
    except (CursorExpired, InvalidCursor) as error:
        await websocket.accept()
        await _end(websocket, error)
        return
    except YoiError as error:
        await websocket.send_denial_response(error_response(error))
        return
    async with subscription:
        await websocket.accept()
        await _pump_until_done(websocket, subscription, websocket.app.state.frames)


async def _pump_until_done(
    websocket: WebSocket, subscription: Subscription, frames: FrameCache
) -> None:
    pump = asyncio.create_task(_pump(websocket, subscription, frames))
    listen = asyncio.create_task(watch_client(websocket))
    done, pending = await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    finished = done.pop()
    ending = finished.result()
    if ending is not None:
        await _end(websocket, ending)


async def _pump(
    websocket: WebSocket, subscription: Subscription, frames: FrameCache
) -> YoiError | None:
    """Send every event; say why it stopped, or None when the peer is gone."""
    backlog = Backlog.of(websocket.scope)
    try:
        async for event in subscription:
            if (overflow := await backlog.wait()) is not None:
                return overflow
            await websocket.send_text(frames.frame(event))
    except YoiError as error:  # slow_consumer
        return error
    except (WebSocketDisconnect, OSError, RuntimeError):
        return None
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await websocket.close(GOING_AWAY, "the runtime is shutting down")
    return None


async def watch_client(websocket: WebSocket) -> YoiError | None:
    """Read an observer's frames until it leaves (None) or sends something other than a ping."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None or not is_client_ping(text):
            return ObservationOnly(
                'the stream is observation only: a client may send only {"kind": "ping"}'
            )


async def serve_observer(
    websocket: WebSocket,
    sending: Coroutine[Any, Any, YoiError | None],
    *,
    going_away: str,
    scrub: Callable[[YoiError], YoiError] = lambda error: error,
) -> None:
    """Run ``sending`` beside :func:`watch_client` until either ends, then close the accepted
    ``websocket``: with a diagnostic for the problem either had (``scrub``-bed first), or
    with 1001 and ``going_away`` when the sender ran out."""
    sender = asyncio.create_task(sending)
    listener = asyncio.create_task(watch_client(websocket))
    done, pending = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    problem = listener.result() if listener in done else sender.result()
    if problem is not None:
        await _end(websocket, scrub(problem))
    elif sender in done:
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await websocket.close(GOING_AWAY, going_away)


async def _end(websocket: WebSocket, error: YoiError) -> None:
    text, code = diagnostic_frame(error)
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await websocket.send_text(text)
        await websocket.close(code, error.code)
