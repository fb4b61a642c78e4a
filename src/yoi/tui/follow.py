"""Following a worker's event stream: resume by cursor when it drops, resync when told to.

:func:`follow` opens the stream, hands each frame on, and keeps the cursor of the last
event it handed on. A stream that is cut (the backend restarting, a ``slow_consumer``)
is opened again from that cursor, after a short pause that grows while it keeps failing:
the backend then sends a snapshot (only its worker and status are news) and every event
after the cursor, none twice. A ``cursor_expired`` or ``invalid_cursor`` answer means
the events in between are gone: the stream is opened without a cursor and the
conversation starts over from the snapshot. A worker or runtime that does not exist
ends the loop with its error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from yoi.client import RemoteSubscription
from yoi.errors import (
    CursorExpired,
    InvalidCursor,
    RuntimeNotFound,
    Unauthorized,
    WorkerNotFound,
    YoiError,
)

__all__ = ["Frame", "Sink", "StreamState", "Subscribe", "follow"]

StreamState = Literal["connecting", "live", "reconnecting"]
_FATAL = (WorkerNotFound, RuntimeNotFound, Unauthorized)
_RESYNC = (CursorExpired, InvalidCursor)
SHARE = 0.005
"""Seconds of frames handed on before the loop lets the rest of the UI run."""
FIRST_PAUSE = 0.2
LAST_PAUSE = 5.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One event, as a dict; ``fresh`` on a snapshot means: forget what was drawn."""

    body: Mapping[str, Any]
    snapshot: bool = False
    fresh: bool = False


class Sink(Protocol):
    reconnect_pause: float
    """Seconds before the first attempt to open a cut stream again (it doubles up to
    ``LAST_PAUSE`` while attempts fail)."""
    wake: asyncio.Event
    """Set to end a pause now (the backend is back): the next attempt starts at once."""

    def frame(self, frame: Frame) -> None: ...

    def state(self, state: StreamState, error: YoiError | None) -> None: ...


Subscribe = Callable[[str | None], Awaitable[RemoteSubscription]]


async def follow(subscribe: Subscribe, sink: Sink) -> None:
    """Follow until cancelled, or until the worker turns out not to exist (raised)."""
    where = _Position()
    pause = sink.reconnect_pause
    sink.state("connecting", None)
    while True:
        try:
            await _one_connection(subscribe, where, sink)
            sink.state("reconnecting", None)
            pause = sink.reconnect_pause
        except _RESYNC as error:
            sink.state("reconnecting", error)
            where.cursor = None
            continue
        except _FATAL:
            raise
        except YoiError as error:
            sink.state("reconnecting", error)
        await _pause(pause, sink.wake)
        pause = min(pause * 2, max(LAST_PAUSE, sink.reconnect_pause))


@dataclass
class _Position:
    cursor: str | None = None
    """The cursor of the last event handed on."""


async def _one_connection(subscribe: Subscribe, where: _Position, sink: Sink) -> None:
    """Hand on what one connection brings, keeping ``where`` at the last event handed on."""
    stream = await subscribe(where.cursor)
    async with stream as events:
        first = True
        turn = time.perf_counter()
        async for event in events:
            if time.perf_counter() - turn > SHARE:
                # frames already buffered come without a pause: let keys and redraws in
                await asyncio.sleep(0)
                turn = time.perf_counter()
            body = event.to_dict()
            if first:
                sink.state("live", None)
                sink.frame(Frame(body, snapshot=True, fresh=where.cursor is None))
                first = False
            else:
                sink.frame(Frame(body))
            where.cursor = events.cursor


async def _pause(seconds: float, wake: asyncio.Event) -> None:
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        pass
    wake.clear()
