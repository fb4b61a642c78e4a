"""``GET /api/workers`` over one embedded and three remote runtimes of 1,000 workers each.

Target: the default page (100 workers across runtimes) p50 ≤ 50 ms.

Four processes besides this one: three runtimes (``bench._server``, the
offline model), each given ``WORKERS`` workers through ``RuntimeClient``
before anything is timed, and a backend (``bench._backend --workers 1000``)
over them, whose embedded runtime holds ``WORKERS`` workers and the
Companion. Latencies are ``time.perf_counter`` around one request of one
``httpx.AsyncClient`` (keep-alive), after a warm-up, and every answer is
checked: a full page and no diagnostics, so every runtime answered. The
backend asks every runtime for a page of the requested size at once, and
keeps what fits, in runtime order.

Context, without targets: walking every page with ``limit=500`` until
``next_after`` is null (all the workers); ``GET /api/runtimes`` (each remote
asked for its summary); and ``GET /v1/workers?limit=100`` straight from one
runtime process, one of the four requests behind a default page. The note
gives the backend's CPU per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace

import httpx

from bench._backend import backend_serving
from bench._report import Result, p50, percentile, run_bench
from bench._server import CpuUse, ServerProcess, load_note, serving
from yoi.client import RuntimeClient

BENCH = "backend_listing"
REMOTES = 3
WORKERS = 1_000
FILLERS = 4
WARMUP = 20
SAMPLES = 300
WALKS = 10
RUNTIME_SAMPLES = 100
WALK_PAGE = 500
DEFAULT_PAGE = 100
TOTAL = (REMOTES + 1) * WORKERS + 1  # and the Companion

Call = Callable[[], Awaitable[object]]
Body = dict[str, object]


async def _fill(url: str) -> None:
    """Give the runtime at ``url`` ``WORKERS`` workers, ``FILLERS`` creations at a time."""
    async with RuntimeClient(url) as client:

        async def create(count: int) -> None:
            for _ in range(count):
                await client.create_worker()

        await asyncio.gather(*(create(WORKERS // FILLERS) for _ in range(FILLERS)))


async def _get(http: httpx.AsyncClient, path: str, **params: str | int) -> Body:
    response = await http.get(path, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:200]}")
    body: Body = response.json()
    return body


async def _page(http: httpx.AsyncClient, **params: str | int) -> Body:
    """One page of the listing, refused unless every runtime answered."""
    body = await _get(http, "/api/workers", **params)
    if body["diagnostics"]:
        raise RuntimeError(f"a runtime did not answer the listing: {body['diagnostics']}")
    return body


async def _default_page(http: httpx.AsyncClient) -> None:
    body = await _page(http)
    workers = body["workers"]
    assert isinstance(workers, list)
    if len(workers) != DEFAULT_PAGE or body["next_after"] is None:
        raise RuntimeError(f"the default page held {len(workers)} workers and no next page")


async def _walk(http: httpx.AsyncClient) -> tuple[float, int]:
    """Seconds to read every page of ``WALK_PAGE`` workers, and how many pages."""
    started = time.perf_counter()
    seen, pages = 0, 0
    params: dict[str, str | int] = {"limit": WALK_PAGE}
    while True:
        body = await _page(http, **params)
        workers = body["workers"]
        assert isinstance(workers, list)
        seen, pages = seen + len(workers), pages + 1
        after = body["next_after"]
        if not isinstance(after, str):  # null: the last page
            break
        params["after"] = after
    elapsed = time.perf_counter() - started
    if seen != TOTAL:
        raise RuntimeError(f"walking every page found {seen:,} workers, not {TOTAL:,}")
    return elapsed, pages


async def _timed(call: Call, warmup: int, samples: int) -> list[float]:
    timings: list[float] = []
    for index in range(warmup + samples):
        started = time.perf_counter()
        await call()
        if index >= warmup:
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _ms(samples: list[float]) -> str:
    return (
        f"p90 {percentile(samples, 0.9):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms, "
        f"{len(samples)} calls"
    )


def _cpu(use: CpuUse, calls: int) -> str:
    return f"backend CPU {100 * use.share:.0f}%, {use.micros_per(calls) / 1000:.2f} ms per call"


async def _measure(backend: ServerProcess, runtime_url: str) -> list[Result]:
    async with httpx.AsyncClient(base_url=backend.url) as http:
        watch = backend.watch()
        pages = await _timed(lambda: _default_page(http), WARMUP, SAMPLES)
        page_cpu = _cpu(watch.stop(), WARMUP + SAMPLES)
        walks = [await _walk(http) for _ in range(WALKS)]
        runtimes = await _timed(lambda: _get(http, "/api/runtimes"), WARMUP, RUNTIME_SAMPLES)
    async with httpx.AsyncClient(base_url=runtime_url) as http:
        direct = await _timed(
            lambda: _get(http, "/v1/workers", limit=DEFAULT_PAGE), WARMUP, RUNTIME_SAMPLES
        )
    walk_ms = [1000 * seconds for seconds, _ in walks]
    page_count = walks[0][1]
    return [
        Result(
            BENCH,
            "GET /api/workers, default page p50",
            p50(pages),
            "ms",
            50.0,
            "max",
            f"{_ms(pages)}; {DEFAULT_PAGE} of {TOTAL:,} workers over 1 embedded and "
            f"{REMOTES} remote runtimes; {page_cpu}",
        ),
        Result(
            BENCH,
            f"GET /api/workers, every page (limit={WALK_PAGE})",
            p50(walk_ms),
            "ms",
            note=f"context: median of {WALKS} walks of {page_count} pages, {TOTAL:,} workers "
            f"({p50(walk_ms) / page_count:.1f} ms a page); slowest walk {max(walk_ms):.1f} ms",
        ),
        Result(
            BENCH,
            "GET /api/runtimes p50",
            p50(runtimes),
            "ms",
            note=f"context: {_ms(runtimes)}",
        ),
        Result(
            BENCH,
            f"GET /v1/workers?limit={DEFAULT_PAGE} from one runtime p50",
            p50(direct),
            "ms",
            note=f"context: straight from a runtime process, no backend; {_ms(direct)}",
        ),
    ]


async def measure() -> list[Result]:
    load = load_note()
    async with AsyncExitStack() as stack:
        runtimes = [await stack.enter_async_context(serving()) for _ in range(REMOTES)]
        urls = [runtime.url for runtime in runtimes]
        await asyncio.gather(*(_fill(url) for url in urls))
        async with backend_serving(*urls, workers=WORKERS) as backend:
            results = await _measure(backend, urls[0])
    results[0] = replace(results[0], note=f"{results[0].note}; {load}")
    return results


if __name__ == "__main__":
    run_bench(BENCH, measure)
