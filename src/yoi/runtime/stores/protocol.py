"""The seam between the runtime and where it keeps things."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from yoi.runtime.events import Event
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.transcript import TranscriptEntry

__all__ = ["EventSlice", "QueuedInput", "Store", "StoreProblem", "StoredState", "StoredWorker"]


@dataclass(frozen=True, slots=True)
class QueuedInput:
    """An input accepted with ``enqueue`` whose run had not started.

    ``content`` is ``None`` only in records written before queued inputs were
    kept whole; such an input cannot run again.
    """

    run_id: str
    content: str | None


@dataclass(frozen=True, slots=True)
class StoredWorker:
    """A worker as the store found it, with the runs that were open when it last closed."""

    record: WorkerRecord
    active_run: str | None = None
    queued: tuple[QueuedInput, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreProblem:
    """Something the store found wrong, or repaired, naming the file and line.

    ``store_corrupt`` and ``store_missing`` problems with a ``worker_id`` make
    that worker unavailable; ``store_repaired`` ones are reported only.
    """

    code: str
    message: str
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredState:
    runtime: RuntimeRecord
    workers: tuple[StoredWorker, ...] = ()
    problems: tuple[StoreProblem, ...] = ()
    bundles: Mapping[str, bytes] = field(default_factory=dict)


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

    async def open(self, runtime: RuntimeRecord, *, id_requested: bool = False) -> StoredState:
        """Open the store, creating ``runtime`` in it if it holds none.

        A store that already holds a runtime keeps its identity; if
        ``id_requested`` and the ids differ, opening fails with
        ``invalid_request``.
        """
        ...

    async def close(self) -> None: ...

    async def save_worker(self, record: WorkerRecord) -> None: ...

    def append_events(self, worker_id: str, events: Sequence[Event]) -> Awaitable[None]: ...

    def append_transcript(
        self, worker_id: str, entries: Sequence[TranscriptEntry]
    ) -> Awaitable[None]: ...

    async def read_events(self, worker_id: str, after: int, limit: int) -> EventSlice: ...

    async def save_bundle(self, digest: str, content: bytes) -> None:
        """Keep a config bundle's canonical encoding under its SHA-256 digest."""
        ...

    async def read_transcript(
        self, worker_id: str, start: int, limit: int
    ) -> tuple[TranscriptEntry, ...]: ...
