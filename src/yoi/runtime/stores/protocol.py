"""The seam between the runtime and where it keeps things."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from yoi.runtime.events import Event
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.transcript import TranscriptEntry

__all__ = ["EventSlice", "Store", "StoredState"]


@dataclass(frozen=True, slots=True)
class StoredState:
    runtime: RuntimeRecord
    workers: tuple[WorkerRecord, ...]


@dataclass(frozen=True, slots=True)
class EventSlice:
    """Events after some seq, and the first seq the store still retains (``last + 1`` if none)."""

    events: tuple[Event, ...]
    first_retained: int


class Store(Protocol):
    """Keeps the runtime record, worker records, event logs and transcripts.

    ``append_events`` and ``append_transcript`` fix the order of records when
    they are called; awaiting what they return waits until the records are
    durable. Reads see every record appended before them, durable or not.
    """

    @property
    def kind(self) -> str: ...

    async def open(self, runtime: RuntimeRecord) -> StoredState: ...

    async def close(self) -> None: ...

    async def save_worker(self, record: WorkerRecord) -> None: ...

    def append_events(self, worker_id: str, events: Sequence[Event]) -> Awaitable[None]: ...

    def append_transcript(
        self, worker_id: str, entries: Sequence[TranscriptEntry]
    ) -> Awaitable[None]: ...

    async def read_events(self, worker_id: str, after: int, limit: int) -> EventSlice: ...

    async def read_transcript(
        self, worker_id: str, start: int, limit: int
    ) -> tuple[TranscriptEntry, ...]: ...
