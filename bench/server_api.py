"""The REST command API over loopback to one server process.

Targets: create a worker p50 ≤ 3 ms; acknowledge an input p50 ≤ 3 ms;
``GET /v1/workers/{id}`` ≥ 1,500 requests/s.

The server (``bench._server``, the offline model) runs in a process of its own.
Latencies are ``time.perf_counter`` around one ``RuntimeClient`` call (one
``httpx.AsyncClient``, keep-alive), after a warm-up; each note adds the p50 of
the same request over a :class:`BareConnection`, which costs this process next
to nothing, so the difference is the client's share. An input goes to an idle
worker only: after each acknowledgement the bench waits, untimed, on the
worker's observation stream until it is idle again.

Throughput is requests completed by ``CONCURRENCY`` bare connections, each
sending its next request when the last is answered, for ``DURATION`` seconds:
the server and this process share the machine's cores, so the requester must
cost less than the server or it is what gets measured. The same through
``CONCURRENCY`` tasks sharing one ``RuntimeClient`` comes as context.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from urllib.parse import urlsplit

from bench._report import Result, p50, percentile, run_bench
from bench._server import CpuUse, ServerProcess, load_note, serving
from yoi.client import RemoteSubscription, RuntimeClient
from yoi.runtime.events import StatusChanged

BENCH = "server_api"
WARMUP = 30
SAMPLES = 300
INPUT_WORKERS = 10
CONCURRENCY = 8
DURATION = 2.0
DEADLINE = 30.0

Call = Callable[[], Awaitable[object]]


class BareConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: a request out, its response (by length) back."""

    def __init__(self, host: str) -> None:
        self._host = host
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._status = 0
        self._length: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._length is None:
            head, found, _ = self._buffer.partition(b"\r\n\r\n")
            if not found:
                return
            self._status = int(head[9:12])
            self._length = _content_length(bytes(head))
            del self._buffer[: len(head) + 4]
        if len(self._buffer) >= self._length and self._waiter is not None:
            body = bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            self._length = None
            self._waiter.set_result((self._status, body))

    async def request(self, method: str, path: str, body: object = None) -> bytes:
        """The response body; anything but a 2xx raises."""
        if self._transport is None or self._transport.is_closing():
            raise ConnectionError("the connection is closed (idle past the keep-alive timeout?)")
        content = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
        )
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(head.encode() + content)
        async with asyncio.timeout(DEADLINE):
            status, answer = await self._waiter
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path} answered {status}: {answer[:200]!r}")
        return answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name == b"content-length":
            return int(value)
    raise RuntimeError("a response without Content-Length, which this bench does not read")


@asynccontextmanager
async def connected(url: str, count: int = 1) -> AsyncIterator[list[BareConnection]]:
    """``count`` connections to ``url``; open them just before use, as idle ones get closed."""
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    loop = asyncio.get_running_loop()
    connections: list[BareConnection] = []
    try:
        for _ in range(count):
            made = await loop.create_connection(lambda: BareConnection(address.netloc), host, port)
            connections.append(made[1])
        yield connections
    finally:
        for connection in connections:
            connection.close()


async def _timed(call: Call, warmup: int, samples: int) -> list[float]:
    timings: list[float] = []
    for index in range(warmup + samples):
        started = time.perf_counter()
        await call()
        if index >= warmup:
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def _until_idle(subscription: RemoteSubscription) -> None:
    async with asyncio.timeout(DEADLINE):
        async for event in subscription:
            if isinstance(event.event, StatusChanged) and event.event.status == "idle":
                return
    raise RuntimeError("the observation stream ended before the worker was idle")


async def _acks(client: RuntimeClient, send: Callable[[str], Call]) -> list[float]:
    """Input acknowledgements, each to an idle worker, sent with ``send(worker_id)``."""
    workers = [(await client.create_worker()).worker_id for _ in range(INPUT_WORKERS)]
    streams = [await client.subscribe(worker_id) for worker_id in workers]
    calls = [send(worker_id) for worker_id in workers]
    timings: list[float] = []
    try:
        for stream in streams:
            await anext(stream)  # the snapshot
        for index in range(WARMUP + SAMPLES):
            slot = index % INPUT_WORKERS
            started = time.perf_counter()
            await calls[slot]()
            elapsed = time.perf_counter() - started
            await _until_idle(streams[slot])
            if index >= WARMUP:
                timings.append(elapsed * 1000)
    finally:
        for stream in streams:
            await stream.aclose()
    return timings


async def _throughput(calls: list[Call], seconds: float) -> tuple[float, int]:
    """Calls completed per second by one task per call, each awaiting its last; and how many."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def repeat(call: Call) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(repeat(call) for call in calls))
    return done / (time.perf_counter() - started), done


def _cpu(use: CpuUse, calls: int) -> str:
    return f"server CPU {100 * use.share:.0f}%, {use.micros_per(calls):.0f} µs per call"


def _ms(samples: list[float]) -> str:
    return (
        f"p95 {percentile(samples, 0.95):.3f} ms, p99 {percentile(samples, 0.99):.3f} ms, "
        f"{len(samples)} calls"
    )


async def _latencies(client: RuntimeClient, server: ServerProcess) -> list[Result]:
    watch = server.watch()
    creates = await _timed(client.create_worker, WARMUP, SAMPLES)
    create_cpu = _cpu(watch.stop(), WARMUP + SAMPLES)
    async with connected(server.url) as (bare,):
        bare_creates = await _timed(lambda: bare.request("POST", "/v1/workers", {}), 0, SAMPLES)
    watch = server.watch()
    acks = await _acks(client, lambda worker_id: lambda: client.send_input(worker_id, "ping"))
    ack_cpu = _cpu(watch.stop(), WARMUP + SAMPLES)
    payload = {"kind": "user", "content": "ping"}
    async with connected(server.url) as (bare,):
        bare_acks = await _acks(
            client,
            lambda worker_id: (
                lambda: bare.request("POST", f"/v1/workers/{worker_id}/input", payload)
            ),
        )
    return [
        Result(
            BENCH,
            "create worker p50",
            p50(creates),
            "ms",
            3.0,
            "max",
            f"{_ms(creates)}; {create_cpu}; bare HTTP p50 {p50(bare_creates):.3f} ms",
        ),
        Result(
            BENCH,
            "input acknowledgement p50",
            p50(acks),
            "ms",
            3.0,
            "max",
            f"{_ms(acks)} to {INPUT_WORKERS} idle workers; {ack_cpu}, its run included; "
            f"bare HTTP p50 {p50(bare_acks):.3f} ms",
        ),
    ]


async def _gets(client: RuntimeClient, server: ServerProcess) -> list[Result]:
    path = f"/v1/workers/{(await client.create_worker()).worker_id}"
    async with connected(server.url, CONCURRENCY) as bare:
        gets: list[Call] = [partial(connection.request, "GET", path) for connection in bare]
        await _throughput(gets, DURATION / 4)  # warm up
        watch = server.watch()
        rate, count = await _throughput(gets, DURATION)
        rate_cpu = _cpu(watch.stop(), count)
    worker_id = path.rsplit("/", 1)[1]
    typed: list[Call] = [lambda: client.get_worker(worker_id)] * CONCURRENCY
    await _throughput(typed, DURATION / 4)  # warm up
    own = time.process_time()
    typed_rate, typed_count = await _throughput(typed, DURATION)
    own_us = 1e6 * (time.process_time() - own) / typed_count
    latencies = await _timed(lambda: client.get_worker(worker_id), WARMUP, SAMPLES)
    return [
        Result(
            BENCH,
            f"GET /v1/workers/{{id}}, {CONCURRENCY} connections",
            rate,
            "requests/s",
            1500,
            "min",
            f"bare HTTP for {DURATION:.0f} s; {rate_cpu}",
        ),
        Result(
            BENCH,
            f"GET /v1/workers/{{id}}, {CONCURRENCY} tasks on one RuntimeClient",
            typed_rate,
            "requests/s",
            note=f"context: this process spent {own_us:.0f} µs of CPU per call",
        ),
        Result(
            BENCH,
            "GET /v1/workers/{id} p50 through RuntimeClient",
            p50(latencies),
            "ms",
            note=f"context: {_ms(latencies)}",
        ),
    ]


async def measure() -> list[Result]:
    load = load_note()
    async with serving() as server, RuntimeClient(server.url) as client:
        results = await _latencies(client, server)
        results += await _gets(client, server)
    results[0] = replace(results[0], note=f"{results[0].note}; {load}")
    return results


if __name__ == "__main__":
    run_bench(BENCH, measure)
