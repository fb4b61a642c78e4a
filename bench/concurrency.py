"""200 workers running at once on a scripted model that waits 10 ms before each of 20 chunks.

Target: the wall time of all 200 is ≤ 1.3 times the wall time of one run alone.
A run is timed from ``send_input`` until a subscription opened beforehand yields
``run_finished``; the batch, from the first ``send_input`` until the last run finished.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

from bench._report import Result, run_bench
from yoi.providers.script import Step, Text, Wait
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime, Subscription
from yoi.runtime.events import RunFinished

BENCH = "concurrency"
WORKERS = 200
CHUNKS = 20
CHUNK_WAIT = 0.010
SOLO_RUNS = 5
BATCHES = 3

TURN: Sequence[Step] = tuple(
    step for _ in range(CHUNKS) for step in (Wait(CHUNK_WAIT), Text("word "))
)


async def _until_finished(subscription: Subscription) -> float:
    async with subscription:
        async for event in subscription:
            if isinstance(event.event, RunFinished):
                if event.event.result != "completed":
                    raise RuntimeError(f"a run ended {event.event.result}")
                return time.perf_counter()
    raise RuntimeError("the subscription ended before run_finished")


async def batch(workers: int) -> float:
    """Seconds from the first ``send_input`` until all ``workers`` runs have finished."""
    model = ScriptedModel([TURN] * workers)
    async with Runtime(model=model) as runtime:
        ids = [(await runtime.create_worker()).worker_id for _ in range(workers)]
        subscriptions = [await runtime.subscribe(worker_id) for worker_id in ids]
        for subscription in subscriptions:
            await anext(subscription)  # the snapshot
        waits = [asyncio.create_task(_until_finished(s)) for s in subscriptions]
        started = time.perf_counter()
        for worker_id in ids:
            await runtime.send_input(worker_id, "go")
        finished = await asyncio.gather(*waits)
    model.assert_consumed()
    return max(finished) - started


async def measure() -> list[Result]:
    await batch(1)  # warm up
    solo = statistics.median([await batch(1) for _ in range(SOLO_RUNS)])
    crowd = statistics.median([await batch(WORKERS) for _ in range(BATCHES)])
    ideal = CHUNKS * CHUNK_WAIT * 1000
    return [
        Result(BENCH, "one run alone", solo * 1000, "ms", note=f"ideal {ideal:.0f} ms"),
        Result(BENCH, f"{WORKERS} runs at once", crowd * 1000, "ms"),
        Result(
            BENCH,
            f"{WORKERS} at once / one alone",
            crowd / solo,
            "x",
            1.3,
            "max",
            f"median of {BATCHES} batches and {SOLO_RUNS} solo runs",
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
