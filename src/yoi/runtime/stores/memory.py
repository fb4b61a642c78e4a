"""A store that keeps everything in memory, within per-worker caps."""

from __future__ import annotations

from collections.abc import Awaitable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from yoi.errors import InvalidRequest
from yoi.runtime.bundles import check_digest
from yoi.runtime.events import Event
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.stores.progress import Progress
from yoi.runtime.stores.protocol import EventSlice, StoredState, StoredWorker
from yoi.runtime.transcript import TranscriptEntry

__all__ = ["MemoryStore"]

T = TypeVar("T")


class _Done:
    """An awaitable that is already finished: memory appends are durable at once."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


_DONE = _Done()


@dataclass(slots=True)
class _Window(Generic[T]):
    """The newest ``cap`` items of a numbered sequence; item ``n`` is the n-th ever added."""

    cap: int
    items: list[T] = field(default_factory=list)
    first: int = 1

    def extend(self, new: Sequence[T]) -> None:
        self.items.extend(new)
        excess = len(self.items) - self.cap
        if excess > self.cap // 4:  # trim in batches; retained_first hides the rest
            del self.items[:excess]
            self.first += excess

    @property
    def retained_first(self) -> int:
        return self.first + max(0, len(self.items) - self.cap)

    def slice(self, start: int, limit: int) -> list[T]:
        begin = max(start, self.retained_first) - self.first
        return self.items[begin : begin + limit]


@dataclass(slots=True)
class _WorkerData:
    record: WorkerRecord
    events: _Window[Event]
    transcript: _Window[TranscriptEntry]
    progress: Progress = field(default_factory=Progress)


class MemoryStore:
    """Keeps the newest ``max_events`` events and ``max_transcript`` entries per worker."""

    kind = "memory"

    def __init__(self, *, max_events: int = 20_000, max_transcript: int = 5_000) -> None:
        self._max_events = max_events
        self._max_transcript = max_transcript
        self._runtime: RuntimeRecord | None = None
        self._workers: dict[str, _WorkerData] = {}
        self._bundles: dict[str, bytes] = {}

    async def open(self, runtime: RuntimeRecord, *, id_requested: bool = False) -> StoredState:
        if self._runtime is None:
            self._runtime = runtime
        elif id_requested and runtime.runtime_id != self._runtime.runtime_id:
            raise InvalidRequest(
                f"this store holds runtime {self._runtime.runtime_id}, not {runtime.runtime_id}"
            )
        workers = tuple(self._stored(data) for data in self._workers.values())
        return StoredState(self._runtime, workers, bundles=dict(self._bundles))

    @staticmethod
    def _stored(data: _WorkerData) -> StoredWorker:
        stored = data.progress.stored(replace(data.record))
        stored.record.transcript_total = data.transcript.first + len(data.transcript.items) - 1
        return stored

    async def close(self) -> None:
        return None

    async def save_worker(self, record: WorkerRecord) -> None:
        if record.worker_id not in self._workers:
            self._workers[record.worker_id] = _WorkerData(
                replace(record), _Window(self._max_events), _Window(self._max_transcript)
            )
        else:
            self._workers[record.worker_id].record = replace(record)

    def append_events(self, worker_id: str, events: Sequence[Event]) -> Awaitable[None]:
        data = self._workers[worker_id]
        data.events.extend(events)
        for event in events:
            data.progress.apply(event)
        return _DONE

    def append_transcript(
        self, worker_id: str, entries: Sequence[TranscriptEntry]
    ) -> Awaitable[None]:
        self._workers[worker_id].transcript.extend(entries)
        return _DONE

    async def save_bundle(self, digest: str, content: bytes) -> None:
        self._bundles[check_digest(digest)] = content

    async def read_events(self, worker_id: str, after: int, limit: int) -> EventSlice:
        window = self._workers[worker_id].events
        return EventSlice(tuple(window.slice(after + 1, limit)), window.retained_first)

    async def read_transcript(
        self, worker_id: str, start: int, limit: int
    ) -> tuple[TranscriptEntry, ...]:
        return tuple(self._workers[worker_id].transcript.slice(start, limit))
