"""From ``send_input`` to ``run_finished`` with a one-chunk scripted reply. Target: p50 ≤ 1 ms.

A subscription is opened (and its snapshot read) before the clock starts; the
clock stops when that subscription yields ``run_finished``. Each worker takes
``RUNS_PER_WORKER`` runs, so its history stays short and steady.
"""

from __future__ import annotations

import time

from bench._report import Result, p50, percentile, run_bench
from yoi.providers.script import Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime, Subscription
from yoi.runtime.events import RunFinished

BENCH = "latency"
WORKERS = 21
RUNS_PER_WORKER = 100


async def _until_finished(subscription: Subscription) -> str:
    async for event in subscription:
        if isinstance(event.event, RunFinished):
            return event.event.result
    raise RuntimeError("the subscription ended before run_finished")


async def _one_run(runtime: Runtime, worker_id: str) -> float:
    async with await runtime.subscribe(worker_id) as subscription:
        await anext(subscription)  # the snapshot
        started = time.perf_counter()
        await runtime.send_input(worker_id, "ping")
        result = await _until_finished(subscription)
        elapsed = time.perf_counter() - started
    if result != "completed":
        raise RuntimeError(f"a run ended {result}")
    return elapsed * 1000


async def measure() -> list[Result]:
    model = ScriptedModel([[Text("pong")]] * (WORKERS * RUNS_PER_WORKER))
    samples: list[float] = []
    async with Runtime(model=model) as runtime:
        for index in range(WORKERS):
            worker = await runtime.create_worker()
            runs = [await _one_run(runtime, worker.worker_id) for _ in range(RUNS_PER_WORKER)]
            if index:  # the first worker warms up
                samples.extend(runs)
    model.assert_consumed()
    note = (
        f"p90 {percentile(samples, 0.9):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms, "
        f"{len(samples)} runs"
    )
    return [Result(BENCH, "send_input → run_finished p50", p50(samples), "ms", 1.0, "max", note)]


if __name__ == "__main__":
    run_bench(BENCH, measure)
