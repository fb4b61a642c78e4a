"""Waiting for a worker's run to end, through the runtime's own event log and stream.

The orchestrator hands a worker an input and must learn how that run ended — also after a
restart, when the run may have ended while nobody watched. :func:`await_run` subscribes
first and then reads the log, so a run that ends between the two is found either way;
:func:`finished_run` reads the log alone (a run whose events the store no longer holds is
``None``: the caller then judges by the worker's transcript and status).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from yoi.errors import RuntimeUnavailable
from yoi.runtime.events import Event, RunFinished
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
    host: RunHost, worker_id: str, run_id: str, *, after: str | None = None
) -> RunFinished:
    """How run ``run_id`` ended, waiting as long as it takes: bound it with
    ``asyncio.timeout``, as a run has no deadline of its own."""
    async with await host.subscribe(worker_id) as stream:
        found = await finished_run(host, worker_id, run_id, after=after)
        if found is not None:
            return found
        async for event in stream:
            body = event.event
            if isinstance(body, RunFinished) and body.run_id == run_id:
                return body
    raise RuntimeUnavailable(
        f"the event stream of {worker_id} ended before run {run_id} did",
        details={"worker_id": worker_id, "run_id": run_id},
    )
