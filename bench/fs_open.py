"""Opening an fs store root that holds 1,000 workers and 1,000,000 events. Target: ≤ 2 s.

A child process builds the root through the store's API (not timed): each
worker has ``worker_created`` and 9 finished runs of 105 deltas (1,000 events,
18 transcript entries), written with the default ``FsLimits``, and the store is
closed cleanly. This process then times ``FsStore(root).open()`` plus
``close()``, with the root's file pages dropped from the page cache first
(``posix_fadvise``) and with them cached, and ``Runtime(store=...)`` opening and
closing on it.

Context, no target: opening after a crash in which every worker was mid-run,
with 501 events since its last checkpoint to replay (a second child appends
them and exits without closing the store).
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from pathlib import Path

from bench._fs import RUNTIME, StoredHistory, evict, in_child, scratch_root, worker_record
from bench._models import ChunkModel
from bench._report import Result, run_bench
from yoi.runtime import FsStore, Runtime
from yoi.runtime.stores import StoredState
from yoi.runtime.stores.fs import RESTART_SEQ_GAP

BENCH = "fs_open"
WORKERS = 1_000
RUNS = 9
DELTAS = 105  # 1 + 9 runs x (105 deltas + 6) = 1,000 events per worker
EVENTS = WORKERS * (1 + RUNS * (DELTAS + 6))
IN_FLIGHT = 500
CHUNK = 50  # workers whose records go out in one group commit while building
REPEATS = 3
TARGET_S = 2.0


def _worker_id(index: int) -> str:
    return f"w{index:05d}"


def build(root: str) -> None:
    asyncio.run(_build(Path(root)))


async def _build(root: Path) -> None:
    store = FsStore(root)
    await store.open(RUNTIME)
    for first in range(0, WORKERS, CHUNK):
        histories = [StoredHistory(_worker_id(index)) for index in range(first, first + CHUNK)]
        for history in histories:
            await store.save_worker(worker_record(history.worker_id))
        pending = []
        for history in histories:
            events = history.created()
            entries = []
            for _ in range(RUNS):
                run_events, run_entries = history.run(DELTAS)
                events += run_events
                entries += run_entries
            pending.append(store.append_events(history.worker_id, events))
            pending.append(store.append_transcript(history.worker_id, entries))
        for durable in pending:
            await durable
    await store.close()


def crash(root: str) -> None:
    """Start a run on every worker, stream ``IN_FLIGHT`` deltas, and die without closing."""
    asyncio.run(_crash(Path(root)))


async def _crash(root: Path) -> None:
    store = FsStore(root)
    state = await store.open(RUNTIME)
    histories: list[StoredHistory] = []
    for stored in state.workers:
        history = StoredHistory(stored.record.worker_id)
        history.seq, history.entries = stored.record.last_seq, stored.record.transcript_total
        history.runs = stored.record.runs
        histories.append(history)
    pending = []
    for history in histories:  # a checkpoint follows these: they change the status
        events, user = history.start()
        pending.append(store.append_events(history.worker_id, events))
        pending.append(store.append_transcript(history.worker_id, [user]))
    for durable in pending:
        await durable
    streamed = [store.append_events(h.worker_id, h.stream(IN_FLIGHT)) for h in histories]
    for durable in streamed:
        await durable
    os._exit(0)  # no close: checkpoints stay where the last status change left them


async def _open_store(root: Path, *, cold: bool) -> tuple[float, float, StoredState]:
    """(open seconds, close seconds, state) of one open of ``root``."""
    if cold:
        evict(root)
    gc.collect()
    store = FsStore(root)
    started = time.perf_counter()
    state = await store.open(RUNTIME)
    opened = time.perf_counter()
    await store.close()
    return opened - started, time.perf_counter() - opened, state


async def _open_runtime(root: Path) -> tuple[float, int]:
    gc.collect()
    started = time.perf_counter()
    runtime = Runtime(store=FsStore(root), model=ChunkModel(1))
    await runtime.open()
    workers = (await runtime.summary()).worker_count
    await runtime.close()
    return time.perf_counter() - started, workers


def _check(state: StoredState, events: int) -> None:
    stored = sum(worker.record.last_seq for worker in state.workers)
    if len(state.workers) != WORKERS or state.problems or stored != events:
        raise RuntimeError(
            f"the root holds {len(state.workers)} workers and {stored:,} events, "
            f"problems {state.problems[:3]}"
        )


def _series(samples: list[tuple[float, float, StoredState]]) -> tuple[float, str]:
    totals = [opened + closed for opened, closed, _ in samples]
    opens = statistics.median(opened for opened, _, _ in samples)
    closes = statistics.median(closed for _, closed, _ in samples)
    note = f"open {opens:.3f} s + close {closes:.3f} s; median of {len(samples)}"
    return statistics.median(totals), note


async def measure() -> list[Result]:
    with scratch_root() as root:
        started = time.perf_counter()
        await asyncio.to_thread(in_child, build, str(root))
        built = time.perf_counter() - started
        size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        cold = [await _open_store(root, cold=True) for _ in range(REPEATS)]
        warm = [await _open_store(root, cold=False) for _ in range(REPEATS)]
        for _, _, state in cold + warm:
            _check(state, EVENTS)
        runtime = [await _open_runtime(root) for _ in range(REPEATS)]
        if any(workers != WORKERS for _, workers in runtime):
            raise RuntimeError(f"the runtime restored {runtime[0][1]} workers, not {WORKERS}")
        await asyncio.to_thread(in_child, crash, str(root))
        crashed = [await _open_store(root, cold=True)]
        _check(crashed[0][2], EVENTS + WORKERS * (IN_FLIGHT + 3 + RESTART_SEQ_GAP))
    cold_s, cold_note = _series(cold)
    warm_s, warm_note = _series(warm)
    crash_s, crash_note = _series(crashed)
    scale = (
        f"{WORKERS:,} workers, {EVENTS:,} events, {size / 2**20:.0f} MiB; built in {built:.0f} s"
    )
    return [
        Result(
            BENCH,
            "open + close, file pages evicted",
            cold_s,
            "s",
            TARGET_S,
            "max",
            f"{cold_note}; {scale}",
        ),
        Result(BENCH, "open + close, file pages cached", warm_s, "s", TARGET_S, "max", warm_note),
        Result(
            BENCH,
            "Runtime(store=FsStore(root)) open + close, cached",
            statistics.median(seconds for seconds, _ in runtime),
            "s",
            TARGET_S,
            "max",
            f"median of {REPEATS}",
        ),
        Result(
            BENCH,
            "open + close after a crash mid-run, evicted",
            crash_s,
            "s",
            note=(
                f"context: every worker mid-run, {IN_FLIGHT + 1} events each to replay "
                f"({WORKERS * (IN_FLIGHT + 1):,} in all); {crash_note}"
            ),
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
