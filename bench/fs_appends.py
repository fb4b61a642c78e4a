"""Durable appends to an fs store in one process. Target: ≥ 5,000 events/s.

Through the runtime: 100 workers stream 1,000 deltas each at once on a
``ChunkModel`` over ``Runtime(store=FsStore(root))`` with the default limits.
The clock runs from sending the inputs until every subscriber has read
``run_finished`` and the newest append of every worker is durable (awaited
through a store wrapper that keeps each worker's last durability), so every
event counted is on disk. Every ``os.fsync`` the process makes meanwhile is
counted (``os.fsync`` is wrapped): segment appends, checkpoints, compaction
and directory entries alike.

Context, no target: 1,000 workers streaming 100 deltas each, and the store
API with 100 appenders that each await every single-event append before the
next (the strictest pattern; no runtime does it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from bench._fs import RUNTIME, StoredHistory, counting_fsyncs, scratch_root, worker_record
from bench._models import ChunkModel
from bench._report import Result, run_bench
from yoi.runtime import FsStore, Runtime, Subscription
from yoi.runtime.events import Event, RunFinished
from yoi.runtime.records import RuntimeRecord, WorkerRecord
from yoi.runtime.stores import EventSlice, StoredState
from yoi.runtime.transcript import TranscriptEntry

BENCH = "fs_appends"
WORKERS = 100
DELTAS = 1_000
REPEATS = 3
APPENDERS = 100
APPENDS_EACH = 100
TARGET = 5_000.0


class DurabilityProbe:
    """A store that counts what passes through it and keeps each worker's newest durability."""

    def __init__(self, inner: FsStore) -> None:
        self.inner = inner
        self.events = 0
        self.entries = 0
        self.newest: dict[str, Awaitable[None]] = {}

    @property
    def kind(self) -> str:
        return self.inner.kind

    async def open(self, runtime: RuntimeRecord, *, id_requested: bool = False) -> StoredState:
        return await self.inner.open(runtime, id_requested=id_requested)

    async def close(self) -> None:
        await self.inner.close()

    async def save_worker(self, record: WorkerRecord) -> None:
        await self.inner.save_worker(record)

    def append_events(self, worker_id: str, events: Sequence[Event]) -> Awaitable[None]:
        self.events += len(events)
        durable = self.newest[worker_id] = self.inner.append_events(worker_id, events)
        return durable

    def append_transcript(
        self, worker_id: str, entries: Sequence[TranscriptEntry]
    ) -> Awaitable[None]:
        self.entries += len(entries)
        durable = self.newest[worker_id] = self.inner.append_transcript(worker_id, entries)
        return durable

    async def read_events(self, worker_id: str, after: int, limit: int) -> EventSlice:
        return await self.inner.read_events(worker_id, after, limit)

    async def save_bundle(self, digest: str, content: bytes) -> None:
        await self.inner.save_bundle(digest, content)

    async def read_transcript(
        self, worker_id: str, start: int, limit: int
    ) -> tuple[TranscriptEntry, ...]:
        return await self.inner.read_transcript(worker_id, start, limit)


@dataclass(frozen=True, slots=True)
class Appended:
    events: int
    entries: int
    seconds: float
    fsyncs: int
    directory_fsyncs: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def note(self) -> str:
        return (
            f"{self.events:,} events and {self.entries:,} transcript entries in "
            f"{self.seconds:.2f} s; {self.fsyncs:,} fsyncs ({self.directory_fsyncs:,} of "
            f"directories), {self.events / self.fsyncs:.1f} events per fsync"
        )


async def _until_finished(subscription: Subscription) -> None:
    async for event in subscription:
        if isinstance(event.event, RunFinished):
            return


async def streaming(workers: int, deltas: int) -> Appended:
    with scratch_root() as root:
        probe = DurabilityProbe(FsStore(root))
        async with Runtime(store=probe, model=ChunkModel(deltas)) as runtime:
            ids = [(await runtime.create_worker()).worker_id for _ in range(workers)]
            subscriptions = [await runtime.subscribe(worker_id) for worker_id in ids]
            for subscription in subscriptions:
                await anext(subscription)  # the snapshot
            readers = [asyncio.create_task(_until_finished(s)) for s in subscriptions]
            await asyncio.gather(*probe.newest.values())
            events, entries = probe.events, probe.entries
            with counting_fsyncs() as fsyncs:
                started = time.perf_counter()
                await asyncio.gather(*(runtime.send_input(worker_id, "go") for worker_id in ids))
                await asyncio.gather(*readers)
                await asyncio.gather(*probe.newest.values())
                seconds = time.perf_counter() - started
            return Appended(
                probe.events - events,
                probe.entries - entries,
                seconds,
                fsyncs.total,
                fsyncs.directories,
            )


async def awaiting_each(appenders: int, appends: int) -> Appended:
    """Each appender awaits every one-event append before making the next."""
    with scratch_root() as root:
        store = FsStore(root)
        await store.open(RUNTIME)
        histories = [StoredHistory(f"w{index:05d}") for index in range(appenders)]
        for history in histories:
            await store.save_worker(worker_record(history.worker_id))
            await store.append_events(history.worker_id, history.created())
        batches = [history.stream(appends - 1) for history in histories]

        async def append(history: StoredHistory, events: list[Event]) -> None:
            for event in events:
                await store.append_events(history.worker_id, (event,))

        with counting_fsyncs() as fsyncs:
            started = time.perf_counter()
            await asyncio.gather(*map(append, histories, batches))
            seconds = time.perf_counter() - started
        await store.close()
        return Appended(appenders * appends, 0, seconds, fsyncs.total, fsyncs.directories)


async def measure() -> list[Result]:
    await streaming(10, 100)  # warm up
    runs = [await streaming(WORKERS, DELTAS) for _ in range(REPEATS)]
    typical = sorted(runs, key=lambda run: run.rate)[len(runs) // 2]
    short = await streaming(1_000, 100)
    strict = await awaiting_each(APPENDERS, APPENDS_EACH)
    return [
        Result(
            BENCH,
            f"{WORKERS} workers streaming {DELTAS:,} deltas each, durable",
            typical.rate,
            "events/s",
            TARGET,
            "min",
            f"median of {REPEATS} ({', '.join(f'{run.rate:,.0f}' for run in runs)}); "
            f"{typical.note()}",
        ),
        Result(
            BENCH,
            f"{WORKERS} workers streaming, fsyncs",
            typical.fsyncs,
            "fsyncs",
            note=f"context: {statistics.fmean(run.events / run.fsyncs for run in runs):.1f} "
            "events per fsync over the runs",
        ),
        Result(
            BENCH,
            "1,000 workers streaming 100 deltas each, durable",
            short.rate,
            "events/s",
            note=f"context: {short.note()}",
        ),
        Result(
            BENCH,
            f"store API, {APPENDERS} appenders awaiting every one-event append",
            strict.rate,
            "events/s",
            note=f"context: {strict.note()}",
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
