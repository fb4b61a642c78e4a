"""One worker: its record, log, transcript, subscribers, input queue and lifecycle."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from yoi.engine.permissions import Rules
from yoi.engine.run import Engine
from yoi.errors import InvalidRequest, PayloadTooLarge, StoreError, WorkerBusy, WorkerStopped
from yoi.ids import IdGenerator
from yoi.runtime.approvals import Approval, Approvals
from yoi.runtime.busy import Dispatch, decide
from yoi.runtime.catalog import is_unicode
from yoi.runtime.events import (
    Event,
    EventBody,
    InputAccepted,
    RunFinished,
    StatusChanged,
    WorkerStoppedEvent,
)
from yoi.runtime.limits import RuntimeLimits
from yoi.runtime.records import WorkerRecord
from yoi.runtime.requests import Input
from yoi.runtime.status import WorkerStatus
from yoi.runtime.stores.protocol import QueuedInput, Store
from yoi.runtime.subscription import Fanout
from yoi.runtime.transcript import History, Role, ToolEntry, TranscriptEntry
from yoi.runtime.views import InputAck, RunState

__all__ = ["LiveRun", "PendingInput", "Worker"]


@dataclass(slots=True)
class PendingInput:
    run_id: str
    content: str
    entry: TranscriptEntry | None = None


@dataclass(slots=True)
class LiveRun:
    run_id: str
    started_at: float
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    """The tool calls of this run waiting for a person's answer."""
    replied: bool = False
    """The model turn's text is in the transcript already (recorded at ``text_done``)."""

    def state(self) -> RunState:
        return RunState(
            self.run_id,
            self.started_at,
            "".join(self.text),
            "".join(self.thinking),
            tuple(self.tools.values()),
            tuple(self.approvals.values()),
        )


class Worker:
    """Holds a worker's state and moves it through its lifecycle.

    Runs are carried out by :func:`yoi.runtime.runner.drive`, which the worker
    starts as a task; everything that changes the worker goes through
    :meth:`emit` and :meth:`record_entry` so observers see it in order.
    """

    def __init__(
        self,
        record: WorkerRecord,
        *,
        store: Store,
        engine: Engine,
        system_prompt: str,
        limits: RuntimeLimits,
        clock: Callable[[], float],
        run_ids: IdGenerator,
        driver: Callable[[Worker, PendingInput], Coroutine[Any, Any, None]],
        restored: bool = False,
        approvals: Approvals | None = None,
    ) -> None:
        self.record = record
        self.store = store
        self.engine = engine
        self.system_prompt = system_prompt
        self.limits = limits
        self.clock = clock
        self.history = History(limits.max_history_messages)
        self.fanout = Fanout()
        self.tail: deque[TranscriptEntry] = deque(maxlen=limits.snapshot_transcript_tail)
        self.live: LiveRun | None = None
        self.queue: deque[PendingInput] = deque()
        self._run_ids = run_ids
        self._driver = driver
        self._task: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._history_loaded = not restored
        self._history_loading: asyncio.Task[None] | None = None
        self.last_durable: Awaitable[None] | None = None
        """The durability of the newest event, which a runner awaits now and then."""
        self.approvals = approvals or Approvals(
            Rules(), timeout=limits.approval_timeout_seconds, clock=clock
        )
        """The gate of its engine's tool calls: answers go here (it was built with the engine)."""
        self.approvals.attach(self)

    @property
    def worker_id(self) -> str:
        return self.record.worker_id

    @property
    def status(self) -> WorkerStatus:
        return self.record.status

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def emit(self, body: EventBody) -> Awaitable[None]:
        """Append an event, hand it to subscribers, and return its durability."""
        self.record.last_seq += 1
        event = Event(self.record.last_seq, self.clock(), self.record.worker_id, body)
        durable = self.store.append_events(self.record.worker_id, (event,))
        self.fanout.publish(event)
        self.last_durable = durable
        return durable

    def record_entry(
        self,
        role: Role,
        content: str,
        run_id: str | None,
        tool: ToolEntry | None = None,
        *,
        cut: str | None = None,
    ) -> tuple[TranscriptEntry, Awaitable[None]]:
        self.record.transcript_total += 1
        entry = TranscriptEntry(
            self.record.transcript_total, role, content, self.clock(), run_id, tool, cut
        )
        durable = self.store.append_transcript(self.record.worker_id, (entry,))
        self.history.add(entry)
        self.tail.append(entry)
        return entry, durable

    def set_status(self, status: WorkerStatus) -> Awaitable[None]:
        self.record.status = self.record.status.to(status)
        return self.emit(StatusChanged(str(status)))

    async def load_history(self) -> None:
        """Read a restored worker's recent transcript back into its history and tail, once."""
        if self._history_loaded:
            return
        if self._history_loading is None:
            self._history_loading = asyncio.ensure_future(self._load_history())
        await asyncio.shield(self._history_loading)

    async def _load_history(self) -> None:
        total = self.record.transcript_total
        count = min(total, self.limits.max_history_messages)
        entries = await self.store.read_transcript(self.worker_id, total - count + 1, count)
        for entry in entries:
            self.history.add(entry)
        self.tail.extend(entries[-self.limits.snapshot_transcript_tail :])
        self._history_loaded = True

    async def recover(self, active_run: str | None, queued: tuple[QueuedInput, ...]) -> None:
        """Take up what a stopped process left open.

        The run that was in flight ends ``failed`` (``interrupted``): what it
        did is gone with the process. Acknowledged queued inputs run again,
        in the order they were accepted. Nothing waits for the disk here: the
        first queued run waits for these records before it calls the model.
        """
        if active_run is not None:
            self.record.runs += 1
            failure = _interrupted("the runtime stopped while this run was active")
            self.emit(RunFinished(active_run, "failed", failure))
        for item in queued:
            if item.content is None or self.status is WorkerStatus.STOPPED:
                failure = _interrupted("the runtime restarted before this input ran; send it again")
                self.emit(RunFinished(item.run_id, "failed", failure))
            else:
                self.queue.append(PendingInput(item.run_id, item.content))
        if self.queue:
            await self.load_history()
            if self.tail and self.tail[-1].run_id == self.queue[0].run_id:
                # Its user entry was durable but its run_started was not: no model was
                # asked yet (a run waits for run_started first), so it runs with that entry.
                self.queue[0].entry = self.tail[-1]
            if self.status is WorkerStatus.IDLE:
                self.set_status(WorkerStatus.RUNNING)
        self._carry_on()

    async def accept(self, item: Input) -> InputAck:
        self.check_content(item.content, self.limits)
        await self.load_history()
        async with self.lock:
            dispatch = decide(
                self.status, item.on_busy, len(self.queue), self.limits.max_queued_inputs
            )
            match dispatch:
                case Dispatch.REJECT_STOPPED:
                    raise WorkerStopped(f"worker {self.worker_id} is stopped")
                case Dispatch.REJECT_BUSY:
                    raise WorkerBusy(
                        f"worker {self.worker_id} is running; send with on_busy "
                        "'enqueue' or 'interrupt' to get in line or take over"
                    )
                case Dispatch.REJECT_QUEUE_FULL:
                    raise WorkerBusy(
                        f"worker {self.worker_id} already has "
                        f"{self.limits.max_queued_inputs} inputs waiting",
                        details={"queued": len(self.queue)},
                    )
                case Dispatch.ENQUEUE:
                    return await self._enqueue(item.content)
                case Dispatch.INTERRUPT:
                    await self._cancel_run(keep_queue=True)
                    return await self._start(item.content)
                case Dispatch.START:
                    return await self._start(item.content)

    @staticmethod
    def check_content(content: str, limits: RuntimeLimits) -> None:
        if not isinstance(content, str) or not content.strip():
            raise InvalidRequest("content must be a non-blank string", details={"field": "content"})
        if not is_unicode(content):
            raise InvalidRequest(
                "content holds a lone surrogate, which is not Unicode text",
                details={"field": "content"},
            )
        size = len(content.encode("utf-8"))
        if size > limits.max_content_bytes:
            raise PayloadTooLarge(
                f"content is {size} bytes; the limit is {limits.max_content_bytes}",
                details={"size": size, "limit": limits.max_content_bytes},
            )

    async def _start(self, content: str) -> InputAck:
        pending = PendingInput(self._run_ids.new(), content)
        pending.entry, entry_durable = self.record_entry(Role.USER, content, pending.run_id)
        accepted = self.emit(InputAccepted(pending.run_id, content, False, pending.entry.sequence))
        seq = self.record.last_seq
        status_durable = self.set_status(WorkerStatus.RUNNING)
        self._launch(pending)
        try:
            await entry_durable
            await accepted
            await status_durable
            await self.store.save_worker(self.record)
        except StoreError as error:
            await self._abandon(pending.run_id, error)
            raise
        return InputAck(self.worker_id, pending.run_id, pending.entry.sequence, seq, False)

    async def _enqueue(self, content: str) -> InputAck:
        pending = PendingInput(self._run_ids.new(), content)
        self.queue.append(pending)
        accepted = self.emit(InputAccepted(pending.run_id, content, True, None))
        seq = self.record.last_seq
        try:
            await accepted
        except StoreError as error:
            if pending in self.queue:  # refused, so it must not run later
                self.queue.remove(pending)
                self.emit(RunFinished(pending.run_id, "failed", _failure(error)))
            raise
        return InputAck(self.worker_id, pending.run_id, None, seq, True)

    def _launch(self, pending: PendingInput) -> None:
        self.live = LiveRun(pending.run_id, self.clock())
        self._task = asyncio.create_task(self._driver(self, pending))

    def _carry_on(self) -> None:
        """With no driver running: start the next queued input, or settle idle."""
        if self.queue:
            self._launch(self.queue.popleft())
        elif self.status is WorkerStatus.RUNNING:
            self.set_status(WorkerStatus.IDLE)

    async def _abandon(self, run_id: str, error: StoreError) -> None:
        """The store refused an input: its run ends ``failed`` with the store's code.

        The records wait in the store and are written with the next write that
        succeeds, so the log tells the same story as the worker's memory.
        """
        if not self.owns(run_id):
            return  # the driver met the failure first, ended the run and went on
        self.finish_run(run_id, RunFinished(run_id, "failed", _failure(error)))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=self.limits.cancel_grace_seconds)
        self._carry_on()

    def owns(self, run_id: str) -> bool:
        """Whether ``run_id`` is the run in flight (a run given up for lost is not)."""
        return self.live is not None and self.live.run_id == run_id

    def next_input(self) -> PendingInput | None:
        """Called by the driver between runs: the next queued input, or go idle."""
        if self._task is not asyncio.current_task():
            return None
        if self.queue:
            pending = self.queue.popleft()
            self.live = LiveRun(pending.run_id, self.clock())
            return pending
        self._task = None
        self.live = None
        if self.status is WorkerStatus.RUNNING:
            self.set_status(WorkerStatus.IDLE)
        return None

    def finish_run(self, run_id: str, body: RunFinished) -> Awaitable[None] | None:
        """Emit ``run_finished`` unless this run was already given up for lost."""
        if not self.owns(run_id):
            return None
        self.live = None
        self.record.runs += 1
        return self.emit(body)

    async def cancel(self) -> bool:
        async with self.lock:
            cancelled = await self._cancel_run(keep_queue=False)
            await self.store.save_worker(self.record)
            return cancelled

    async def stop(self, reason: str | None) -> bool:
        async with self.lock:
            if self.status is WorkerStatus.STOPPED:
                return False
            await self._cancel_run(keep_queue=False, settle=WorkerStatus.STOPPED)
            if self.record.status is not WorkerStatus.STOPPED:  # it was idle
                self.set_status(WorkerStatus.STOPPED)
            self.emit(WorkerStoppedEvent(reason))
            await self.store.save_worker(self.record)
            return True

    async def reopen(self) -> bool:
        """Make a stopped worker idle again, its transcript and history kept; False when it
        was not stopped."""
        async with self.lock:
            if self.status is not WorkerStatus.STOPPED:
                return False
            self.record.status = self.record.status.reopened()
            self.emit(StatusChanged(str(self.record.status)))
            await self.store.save_worker(self.record)
            return True

    async def _cancel_run(
        self, *, keep_queue: bool, settle: WorkerStatus = WorkerStatus.IDLE
    ) -> bool:
        """Cancel the run in flight. Waiting for the disk is the caller's part, after
        every change is made, so a refused write never leaves a change half done."""
        if not keep_queue:
            self._drop_queue()
        task = self._task
        if task is None:
            return False
        self._task = None
        self.approvals.cancel_all()  # resolved before the run ends, so the log says so first
        task.cancel()
        await asyncio.wait({task}, timeout=self.limits.cancel_grace_seconds)
        if self.live is not None:
            self.finish_run(self.live.run_id, RunFinished(self.live.run_id, "cancelled"))
        if self.status is WorkerStatus.RUNNING:
            self.set_status(settle)
        return True

    def _drop_queue(self) -> None:
        while self.queue:
            pending = self.queue.popleft()
            self.emit(
                RunFinished(
                    pending.run_id,
                    "cancelled",
                    {"code": "cancelled", "message": "cancelled before it started"},
                )
            )

    async def close(self) -> None:
        """Cancel whatever runs, for a runtime that is shutting down."""
        task, self._task = self._task, None
        if task is not None:
            self.approvals.cancel_all()
            task.cancel()
            await asyncio.wait({task}, timeout=self.limits.cancel_grace_seconds)
        self.fanout.end_all()


def _interrupted(message: str) -> dict[str, object]:
    return {"code": "interrupted", "message": message}


def _failure(error: StoreError) -> dict[str, object]:
    return {"code": error.code, "message": error.message}
