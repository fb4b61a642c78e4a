"""What to do with an input, given the worker's state: a pure decision."""

from __future__ import annotations

import enum

from yoi.runtime.status import WorkerStatus

__all__ = ["Dispatch", "OnBusy", "decide"]


class OnBusy(enum.StrEnum):
    REJECT = "reject"
    ENQUEUE = "enqueue"
    INTERRUPT = "interrupt"


class Dispatch(enum.Enum):
    START = "start"
    ENQUEUE = "enqueue"
    INTERRUPT = "interrupt"
    REJECT_BUSY = "reject_busy"
    REJECT_QUEUE_FULL = "reject_queue_full"
    REJECT_STOPPED = "reject_stopped"


def decide(status: WorkerStatus, on_busy: OnBusy, queued: int, max_queue: int) -> Dispatch:
    if status is WorkerStatus.STOPPED:
        return Dispatch.REJECT_STOPPED
    if status is WorkerStatus.IDLE and queued == 0:
        return Dispatch.START
    match on_busy:
        case OnBusy.REJECT:
            return Dispatch.REJECT_BUSY
        case OnBusy.INTERRUPT:
            return Dispatch.INTERRUPT
        case OnBusy.ENQUEUE:
            return Dispatch.ENQUEUE if queued < max_queue else Dispatch.REJECT_QUEUE_FULL
