"""Creating a worker in process. Target: p50 ≤ 0.2 ms."""

from __future__ import annotations

import time

from bench._report import Result, p50, percentile, run_bench
from yoi.runtime import CreateWorkerRequest, Runtime

BENCH = "create_worker"
WARMUP = 200
SAMPLES = 5_000


async def measure() -> list[Result]:
    samples: list[float] = []
    async with Runtime() as runtime:
        for index in range(WARMUP + SAMPLES):
            request = CreateWorkerRequest()
            started = time.perf_counter()
            await runtime.create_worker(request)
            if index >= WARMUP:
                samples.append((time.perf_counter() - started) * 1000)
    note = f"p90 {percentile(samples, 0.9):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms"
    return [Result(BENCH, "create_worker p50", p50(samples), "ms", 0.2, "max", note)]


if __name__ == "__main__":
    run_bench(BENCH, measure)
