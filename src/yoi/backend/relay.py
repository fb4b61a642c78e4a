"""One client's view of one worker's events, relayed from its runtime with backend cursors.

The relay opens the runtime's observation stream and re-frames each event
with a :class:`~yoi.backend.cursor.BackendCursor`. When the upstream stream
drops (the runtime restarted, the network blinked, the relay fell behind)
it reconnects with the runtime cursor of the last event it passed on, skips
the new snapshot and anything already passed on, and carries on: the client
sees neither a duplicate nor a gap. An expired upstream cursor, or a runtime
that stays away longer than the resume window, ends the relay with that
error, for the client to resync from a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

from yoi.backend.cursor import BackendCursor
from yoi.backend.policy import Operation, Policy
from yoi.backend.sanitize import Scrubber
from yoi.backend.sources import Observation, RuntimeSource
from yoi.backend.views import Projection, project_worker_dict
from yoi.errors import CursorExpired, InvalidCursor, RuntimeUnavailable, SlowConsumer, YoiError
from yoi.runtime import Event
from yoi.runtime.cursor import encode_cursor
from yoi.runtime.events import Snapshot, format_time

__all__ = ["Relay"]

_SCRUBBED_TYPES = frozenset({"error", "run_finished"})
"""Events whose bodies carry error messages: these pass through the scrubber."""


class Relay:
    def __init__(
        self,
        source: RuntimeSource,
        worker_id: str,
        *,
        cursor: str | None,
        policy: Policy,
        scrubber: Scrubber,
        closing: asyncio.Event,
        resume_window: float = 30.0,
    ) -> None:
        self._source = source
        self._runtime_id = source.runtime_id
        self._worker_id = worker_id
        self._resume_from = (
            None
            if cursor is None
            else BackendCursor.decode(cursor, source.runtime_id, worker_id).seq
        )
        self._operation = Operation("observe", source.runtime_id, worker_id)
        self._project: Callable[[Operation, Projection], Projection] = policy.project
        self._scrubber = scrubber
        self._closing = closing
        self._resume_window = resume_window
        self._upstream: Observation | None = None
        self._last: int | None = None
        self._snapshot_sent = False

    async def open(self) -> None:
        """Open the upstream stream; its refusals (an unknown worker, an old cursor) raise."""
        upstream_cursor = (
            None if self._resume_from is None else encode_cursor(self._worker_id, self._resume_from)
        )
        self._upstream = await self._source.subscribe(self._worker_id, upstream_cursor)

    async def aclose(self) -> None:
        if self._upstream is not None:
            with contextlib.suppress(YoiError, OSError):
                await self._upstream.aclose()

    async def frames(self) -> AsyncIterator[str]:
        """Frame texts for the client, until the backend closes; a lasting failure raises."""
        while True:
            upstream = self._upstream
            assert upstream is not None, "open() first"
            try:
                async for event in upstream:
                    frame = self._frame(event)
                    if frame is not None:
                        yield frame
                if self._closing.is_set():
                    return
                problem: YoiError = RuntimeUnavailable(
                    f"runtime {self._runtime_id} ended the stream"
                )
            except (RuntimeUnavailable, SlowConsumer) as error:
                if self._closing.is_set():
                    return
                problem = error
            await self.aclose()
            await self._reconnect(problem)
            if self._closing.is_set():
                return

    def _frame(self, event: Event) -> str | None:
        if isinstance(event.event, Snapshot):
            if self._snapshot_sent:
                return None  # a reconnection's snapshot: the client is already current
            self._snapshot_sent = True
            self._last = event.seq if self._resume_from is None else self._resume_from
        elif self._last is not None and event.seq <= self._last:
            return None
        else:
            self._last = event.seq
        body = event.event.to_dict()
        if isinstance(event.event, Snapshot):
            worker = dict(event.event.worker)
            body["worker"] = project_worker_dict(worker, self._runtime_id)
        elif body["type"] in _SCRUBBED_TYPES:
            scrubbed = self._scrubber.value(body)
            assert isinstance(scrubbed, dict)
            body = scrubbed
        frame: Projection = {
            "kind": "event",
            "cursor": BackendCursor(self._runtime_id, self._worker_id, event.seq).encode(),
            "seq": event.seq,
            "at": format_time(event.at),
            "worker_id": event.worker_id,
            "event": body,
        }
        frame = self._project(self._operation, frame)
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))

    async def _reconnect(self, problem: YoiError) -> None:
        """Subscribe again after the last event passed on, retrying within the resume window."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._resume_window
        delay = 0.05
        seq = self._last if self._last is not None else self._resume_from
        cursor = None if seq is None else encode_cursor(self._worker_id, seq)
        while not self._closing.is_set():
            try:
                self._upstream = await self._source.subscribe(self._worker_id, cursor)
                return
            except CursorExpired:
                raise
            except InvalidCursor as error:
                raise CursorExpired(
                    f"runtime {self._runtime_id} came back without the events after this "
                    "cursor; resync from a snapshot"
                ) from error
            except RuntimeUnavailable as error:
                problem = error
            if loop.time() + delay > deadline:
                raise problem
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
            delay = min(delay * 2, 1.0)
