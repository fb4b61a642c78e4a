"""Waiting for a worker's run to end, through the runtime's own event log and stream.

The orchestrator hands a worker an input and must learn how that run ended — also after a
restart, when the run may have ended while nobody watched. :func:`await_run` subscribes
first and then reads the log, so a run that ends between the two is found either way;
:func:`finished_run` reads the log alone (a run whose events the store no longer holds is
``None``: the caller then judges by the worker's transcript and status).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from yoi.errors import RunStalled, RuntimeUnavailable
from yoi.runtime.events import Event, RunFinished, ToolCallFinishedEvent, ToolCallStartedEvent
from yoi.runtime.views import EventPage

__all__ = ["RunHost", "await_run", "finished_run"]

_PAGE = 500


class EventStream(AbstractAsyncContextManager["EventStream"], Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...


class RunHost(Protocol):
    """What these functions need of a runtime: a Runtime and a RuntimeClient both are one."""

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage: ...

    async def subscribe(self, worker_id: str, cursor: str | None = None) -> EventStream: ...


async def finished_run(
    host: RunHost, worker_id: str, run_id: str, *, after: str | None = None
) -> RunFinished | None:
    """How run ``run_id`` ended, from the worker's event log (read from ``after``, a cursor
    taken before the run began, when the caller has one); ``None`` while it has not."""
    cursor = after
    while True:
        page = await host.events(worker_id, after=cursor, limit=_PAGE)
        for event in page.events:
            body = event.event
            if isinstance(body, RunFinished) and body.run_id == run_id:
                return body
        if not page.events:
            return None
        cursor = page.next_cursor


async def await_run(
    host: RunHost,
    worker_id: str,
    run_id: str,
    *,
    after: str | None = None,
    silence: float | None = None,
) -> RunFinished:
    """How run ``run_id`` ended, waiting as long as it takes — or, with ``silence``, until the
    worker has given no event for that many seconds while no tool call of it is running:
    then ``run_stalled``. A tool call running (a long test suite) holds the clock; its own
    timeout bounds it."""
    async with await host.subscribe(worker_id) as stream:
        found = await finished_run(host, worker_id, run_id, after=after)
        if found is not None:
            return found
        events = aiter(stream)
        running: set[str] = set()
        while True:
            try:
                async with asyncio.timeout(None if running else silence):
                    event = await anext(events)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise RunStalled(
                    f"worker {worker_id} gave no sign of life for {silence:g} s",
                    details={"worker_id": worker_id, "run_id": run_id, "seconds": silence},
                ) from None
            body = event.event
            if isinstance(body, RunFinished) and body.run_id == run_id:
                return body
            if isinstance(body, ToolCallStartedEvent):
                running.add(body.call_id)
            elif isinstance(body, ToolCallFinishedEvent):
                running.discard(body.call_id)
    raise RuntimeUnavailable(
        f"the event stream of {worker_id} ended before run {run_id} did",
        details={"worker_id": worker_id, "run_id": run_id},
    )
