"""Transcript pages of 100 from an fs-stored worker with 1,000,000 events. Target: p50 ≤ 5 ms.

A child process builds the root through the store's API (not timed): one
worker, 50,000 finished runs of 14 deltas (20 events and 2 transcript entries
each: 1,000,001 events, 100,000 entries), appended 20 runs per group commit so
segments fill as a runtime fills them, with the default ``FsLimits`` (the
deltas of sealed segments are compacted away, old segments are dropped past
the retention budget). This process evicts the root's file pages from the page
cache, opens it, and reads ``read_transcript(worker, start, 100)`` at random
starts over the whole transcript, in a fixed order, first touches of each
segment included; then the first and the last page, and ``Runtime.transcript``.

Context, no target: event replay pages, ``read_events(after, 100)`` at random
``after`` over what the log retains.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bench._fs import RUNTIME, StoredHistory, evict, in_child, scratch_root, worker_record
from bench._models import ChunkModel
from bench._report import Result, p50, percentile, run_bench
from yoi.runtime import FsStore, Runtime
from yoi.runtime.events import Event
from yoi.runtime.transcript import TranscriptEntry

BENCH = "fs_transcript"
WORKER = "w-long"
RUNS = 50_000
DELTAS = 14  # 20 events a run: 1 + 50,000 x 20 = 1,000,001 events
RUNS_PER_COMMIT = 20
ENTRIES = 2 * RUNS
PAGE = 100
SAMPLES = 2_000
EDGE_SAMPLES = 200
TARGET_MS = 5.0


def build(root: str) -> None:
    asyncio.run(_build(Path(root)))


async def _build(root: Path) -> None:
    store = FsStore(root)
    await store.open(RUNTIME)
    await store.save_worker(worker_record(WORKER))
    history = StoredHistory(WORKER)
    await store.append_events(WORKER, history.created())
    for _ in range(RUNS // RUNS_PER_COMMIT):
        events: list[Event] = []
        entries: list[TranscriptEntry] = []
        for _ in range(RUNS_PER_COMMIT):
            run_events, run_entries = history.run(DELTAS)
            events += run_events
            entries += run_entries
        durable = store.append_events(WORKER, events)
        await store.append_transcript(WORKER, entries)
        await durable
    await store.close()


async def _timed(
    starts: Sequence[int], read: Callable[[int], Awaitable[Sequence[object]]]
) -> list[float]:
    """Milliseconds per page, checking each page is full."""
    samples: list[float] = []
    for start in starts:
        began = time.perf_counter()
        page = await read(start)
        samples.append((time.perf_counter() - began) * 1000)
        if len(page) != PAGE:
            raise RuntimeError(f"a page at {start} held {len(page)} records, not {PAGE}")
    return samples


def _segments(directory: Path) -> tuple[int, int]:
    """(segment files, records) of a log directory."""
    files = list(directory.glob("*.jsonl"))
    return len(files), sum(path.read_bytes().count(b"\n") for path in files)


def _ms(samples: Sequence[float]) -> str:
    return f"p50 {p50(samples):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms"


async def _store_pages(root: Path) -> list[Result]:
    rng = random.Random(7)
    store = FsStore(root)
    began = time.perf_counter()
    state = await store.open(RUNTIME)
    opened = time.perf_counter() - began
    last_seq = state.workers[0].record.last_seq
    total = state.workers[0].record.transcript_total
    if total != ENTRIES:
        raise RuntimeError(f"the worker has {total:,} transcript entries, not {ENTRIES:,}")

    async def transcript(start: int) -> Sequence[object]:
        return await store.read_transcript(WORKER, start, PAGE)

    async def events(after: int) -> Sequence[object]:
        return (await store.read_events(WORKER, after, PAGE)).events

    last = total - PAGE + 1
    first_ever = await _timed([1], transcript)
    last_ever = await _timed([last], transcript)
    pages = await _timed([rng.randint(1, last) for _ in range(SAMPLES)], transcript)
    firsts = await _timed([1] * EDGE_SAMPLES, transcript)
    lasts = await _timed([last] * EDGE_SAMPLES, transcript)
    retained = (await store.read_events(WORKER, 0, 1)).first_retained
    afters = [rng.randint(retained - 1, last_seq - 20 * PAGE) for _ in range(SAMPLES)]
    replays = await _timed(afters, events)
    await store.close()
    worker = root / "workers" / WORKER
    transcript_files, event_files = _segments(worker / "transcript"), _segments(worker / "events")
    layout = (
        f"{total:,} entries in {transcript_files[0]} segments; events {retained:,} to "
        f"{last_seq:,} retained, {event_files[1]:,} left after compaction, "
        f"in {event_files[0]} segments"
    )
    return [
        Result(
            BENCH,
            "read_transcript(limit=100) p50, random starts",
            p50(pages),
            "ms",
            TARGET_MS,
            "max",
            f"p99 {percentile(pages, 0.99):.3f} ms, max {max(pages):.3f} ms over {SAMPLES:,} "
            "starts, first reads of each segment included",
        ),
        Result(
            BENCH,
            "read_transcript(limit=100) p50, first page",
            p50(firsts),
            "ms",
            TARGET_MS,
            "max",
            f"{_ms(firsts)}; the first read after open took {first_ever[0]:.3f} ms",
        ),
        Result(
            BENCH,
            "read_transcript(limit=100) p50, last page",
            p50(lasts),
            "ms",
            TARGET_MS,
            "max",
            f"{_ms(lasts)}; its first read took {last_ever[0]:.3f} ms",
        ),
        Result(
            BENCH,
            "read_events(limit=100) p50, random after",
            p50(replays),
            "ms",
            note=f"context: p99 {percentile(replays, 0.99):.3f} ms; {layout}",
        ),
        Result(BENCH, "open the store", opened * 1000, "ms", note="context: file pages evicted"),
    ]


async def _runtime_pages(root: Path) -> Result:
    rng = random.Random(11)
    async with Runtime(store=FsStore(root), model=ChunkModel(1)) as runtime:

        async def transcript(start: int) -> Sequence[object]:
            return (await runtime.transcript(WORKER, start, PAGE)).items

        starts = [rng.randint(1, ENTRIES - PAGE + 1) for _ in range(SAMPLES)]
        pages = await _timed(starts, transcript)
    return Result(
        BENCH,
        "Runtime.transcript(limit=100) p50, random starts",
        p50(pages),
        "ms",
        TARGET_MS,
        "max",
        f"p99 {percentile(pages, 0.99):.3f} ms; file pages cached, a fresh store",
    )


async def measure() -> list[Result]:
    with scratch_root() as root:
        started = time.perf_counter()
        await asyncio.to_thread(in_child, build, str(root))
        built = time.perf_counter() - started
        evict(root)
        results = await _store_pages(root)
        results.append(await _runtime_pages(root))
    opened = results[-2]
    results[-2] = replace(opened, note=f"{opened.note}; the root was built in {built:.0f} s")
    return results


if __name__ == "__main__":
    run_bench(BENCH, measure)
