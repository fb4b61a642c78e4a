"""10,000 idle workers: their memory, and listing them a page of 100 at a time.

Targets: ≤ 150 MB more resident memory (RSS from ``/proc/self/statm``, after a
collection, compared with before the runtime existed); ``list_workers(limit=100,
after=...)`` p50 ≤ 5 ms across offsets from the start to the end of the catalog.
Run it alone (``python -m bench.idle_workers``) or through ``python -m bench``,
which gives each benchmark its own process, so earlier allocations do not hide
the growth.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from bench._report import Result, p50, percentile, run_bench
from yoi.runtime import Runtime

BENCH = "idle_workers"
WORKERS = 10_000
PAGE = 100
OFFSETS = (0, 100, 1_000, 2_500, 5_000, 7_500, 9_000, 9_899)
PAGES_PER_OFFSET = 200
MB = 1024 * 1024


def rss_bytes() -> int:
    resident = int(Path("/proc/self/statm").read_text().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE")


def settled_rss() -> int:
    gc.collect()
    return rss_bytes()


async def _page_times(runtime: Runtime, after: str | None) -> list[float]:
    samples: list[float] = []
    for _ in range(PAGES_PER_OFFSET):
        started = time.perf_counter()
        page = await runtime.list_workers(limit=PAGE, after=after)
        samples.append((time.perf_counter() - started) * 1000)
        if len(page.items) != PAGE:
            raise RuntimeError(f"a page after {after} had {len(page.items)} workers")
    return samples


async def measure() -> list[Result]:
    before = settled_rss()
    async with Runtime() as runtime:
        ids = [(await runtime.create_worker()).worker_id for _ in range(WORKERS)]
        grown = settled_rss() - before
        await _page_times(runtime, None)  # warm up
        by_offset = {
            offset: await _page_times(runtime, ids[offset - 1] if offset else None)
            for offset in OFFSETS
        }
    samples = [sample for found in by_offset.values() for sample in found]
    worst = max(by_offset, key=lambda offset: p50(by_offset[offset]))
    spread = ", ".join(f"@{offset}: {p50(found):.3f}" for offset, found in by_offset.items())
    return [
        Result(
            BENCH,
            "10,000 idle workers, RSS growth",
            grown / MB,
            "MB",
            150.0,
            "max",
            f"{grown / WORKERS / 1024:.1f} KiB per worker",
        ),
        Result(
            BENCH,
            "list_workers(limit=100) p50",
            p50(samples),
            "ms",
            5.0,
            "max",
            f"p99 {percentile(samples, 0.99):.3f} ms; p50 by offset (ms) {spread}",
        ),
        Result(
            BENCH,
            "list_workers(limit=100) p50 at the worst offset",
            p50(by_offset[worst]),
            "ms",
            5.0,
            "max",
            f"offset {worst}",
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
