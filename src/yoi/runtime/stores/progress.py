"""A worker's state as its event log tells it: the part of a worker record that changes.

Stores apply every stored event to a :class:`Progress`. The fs store writes it
in the worker's checkpoint now and then, and on open replays the events after
the checkpoint. So a worker's status, counters and open runs are exactly what
its durable log says, however stale the checkpoint file was when the process
died.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yoi.runtime.events import (
    Event,
    InputAccepted,
    RunFinished,
    RunStarted,
    StatusChanged,
    UsageEvent,
)
from yoi.runtime.records import WorkerRecord
from yoi.runtime.status import WorkerStatus
from yoi.runtime.stores.codec import BadRecord
from yoi.runtime.stores.protocol import QueuedInput, StoredWorker

__all__ = ["Progress"]


@dataclass(slots=True)
class Progress:
    last_seq: int = 0
    status: WorkerStatus = WorkerStatus.IDLE
    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    active_run: str | None = None
    active_since: int | None = None
    queued: list[QueuedInput] = field(default_factory=list)

    def apply(self, event: Event) -> None:
        self.last_seq = event.seq
        match event.event:
            case InputAccepted(run_id=run_id, content=content, queued=True):
                self.queued.append(QueuedInput(run_id, content))
            case InputAccepted(run_id=run_id, queued=False):
                self._activate(run_id, event.seq)
            case RunStarted(run_id=run_id) if run_id != self.active_run:
                self._activate(run_id, event.seq)
            case RunFinished(run_id=run_id):
                if run_id == self.active_run:
                    self.active_run = self.active_since = None
                    self.runs += 1
                else:
                    self._unqueue(run_id)
            case StatusChanged(status=status):
                self.status = WorkerStatus(status)
            case UsageEvent(input_tokens=used_in, output_tokens=used_out):
                self.input_tokens += used_in
                self.output_tokens += used_out
            case _:
                pass

    def _activate(self, run_id: str, seq: int) -> None:
        self._unqueue(run_id)
        self.active_run, self.active_since = run_id, seq

    def _unqueue(self, run_id: str) -> None:
        self.queued = [item for item in self.queued if item.run_id != run_id]

    def stored(self, identity: WorkerRecord) -> StoredWorker:
        """``identity`` brought up to date, with the runs left open."""
        identity.status = self.status
        identity.last_seq = self.last_seq
        identity.runs = self.runs
        identity.usage = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        return StoredWorker(identity, self.active_run, tuple(self.queued))

    def to_dict(self) -> dict[str, object]:
        return {
            "last_seq": self.last_seq,
            "status": str(self.status),
            "runs": self.runs,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "active_run": self.active_run,
            "active_since": self.active_since,
            "queued": [[item.run_id, item.content] for item in self.queued],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Progress:
        try:
            usage = raw["usage"]
            progress = cls(
                last_seq=int(raw["last_seq"]),
                status=WorkerStatus(raw["status"]),
                runs=int(raw["runs"]),
                input_tokens=int(usage["input_tokens"]),
                output_tokens=int(usage["output_tokens"]),
                active_run=raw["active_run"],
                active_since=raw["active_since"],
                queued=[_queued(item) for item in raw["queued"]],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadRecord("has no valid progress") from error
        return progress


def _queued(raw: object) -> QueuedInput:
    """A queued input as a checkpoint holds it; older checkpoints kept only its run id."""
    if isinstance(raw, str):
        return QueuedInput(raw, None)
    if isinstance(raw, list) and len(raw) == 2:
        run_id, content = raw
        if isinstance(run_id, str) and isinstance(content, str):
            return QueuedInput(run_id, content)
    raise ValueError("a queued input is a run id and its content")
