"""Waiting on what a worker reports, with a deadline, instead of sleeping."""

from __future__ import annotations

import asyncio

from yoi.runtime.events import Event, Snapshot, StatusChanged
from yoi.runtime.requests import Input
from yoi.runtime.runtime import Runtime
from yoi.runtime.subscription import Subscription

__all__ = ["all_events", "event_types", "run_to_end", "until", "until_idle"]

DEADLINE = 5.0


async def until(
    subscription: Subscription, event_type: str, *, count: int = 1, deadline: float = DEADLINE
) -> list[Event]:
    """Events from ``subscription`` up to and including the ``count``-th ``event_type``.

    Raises ``TimeoutError`` when that does not happen within ``deadline`` seconds.
    """
    seen: list[Event] = []
    async with asyncio.timeout(deadline):
        async for event in subscription:
            seen.append(event)
            if event.event.type == event_type and (count := count - 1) == 0:
                return seen
    raise AssertionError(f"the stream ended before the {event_type} event: {event_types(seen)}")


async def run_to_end(runtime: Runtime, worker_id: str, item: Input | str) -> list[Event]:
    """Send an input and return every event (after the snapshot) until its run finishes."""
    async with await runtime.subscribe(worker_id) as subscription:
        await runtime.send_input(worker_id, item)
        return (await until(subscription, "run_finished"))[1:]


async def until_idle(runtime: Runtime, worker_id: str, *, deadline: float = DEADLINE) -> None:
    """Return once the worker is idle (at once if it is); ``TimeoutError`` after ``deadline``."""
    async with asyncio.timeout(deadline), await runtime.subscribe(worker_id) as subscription:
        async for event in subscription:
            match event.event:
                case Snapshot(worker={"status": "idle"}) | StatusChanged(status="idle"):
                    return
    raise AssertionError(f"the stream of {worker_id} ended before it was idle")


def event_types(events: list[Event]) -> list[str]:
    return [event.event.type for event in events]


async def all_events(runtime: Runtime, worker_id: str) -> list[Event]:
    """Every event the runtime still holds for ``worker_id``, oldest first, page by page."""
    page = await runtime.events(worker_id, limit=500)
    found = list(page.events)
    while page.events:
        page = await runtime.events(worker_id, after=page.next_cursor, limit=500)
        found.extend(page.events)
    return found
