"""A worker's events relayed by the backend, against the same stream straight from its runtime.

Targets: throughput through the backend ≥ 0.7 of direct; latency the backend
adds p50 ≤ 1 ms, p99 ≤ 5 ms.

Three processes share the machine's cores: the runtime (``bench._server``, a
``ScriptedModel``), the backend (``bench._backend``: an embedded runtime and a
:class:`~yoi.backend.RemoteSource` for that runtime, served by
``create_backend_app``) and this one, whose subscribers are
:class:`~bench.server_stream.LeanSubscriber` s so that they cost less than
either server. "Direct" reads the runtime's ``/v1/workers/{id}/events/ws``;
"through the backend" reads ``/api/runtimes/remote-1/workers/{id}/events/ws``,
which the backend relays from the same runtime stream (parsed into events,
re-framed with backend cursors).

Throughput: one subscriber, a fresh worker streaming ``DELTAS`` deltas per
run; its rate is the ``text_delta`` frames it received over the time from its
first to its last. Direct and through-the-backend runs alternate (which goes
first alternates too) and the figure is the median ratio over back-to-back
pairs. Latency: two subscribers to one worker, one direct and one through the
backend, each noting ``time.perf_counter`` as each frame arrives in this
process; the worker answers short inputs (one chunk, seven events a run), the
next sent only once both have seen the worker idle again, so the figure is the
relay's hop rather than a queue. Inputs go over a
:class:`~bench.server_api.BareConnection`, which costs this process next to
nothing, so it is free to note arrivals. Each event's added latency is its
arrival through the backend minus its direct arrival, matched by ``seq``.
Notes give each process's CPU use while the subscribers read: a share of one
core and microseconds per event.

Three busy processes on two cores: the scheduler's choices move these figures
from run to run, the tail most. When this process is not running as a direct
frame lands, it reads that frame in the same wake-up as the relayed one and the
difference shrinks toward zero, so on a loaded machine the median understates
the hop (tens of microseconds); on a quiet one it is about half a millisecond.
The runtime spends more CPU per frame on this process's lean subscriber than on
the backend reading the same stream (see the notes), which is why the
throughput ratio can exceed 1.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar
from urllib.parse import urlsplit

from bench._backend import backend_serving, remote_id
from bench._report import Result, p50, percentile, run_bench
from bench._server import CpuUse, ServerProcess, load_note, serving
from bench.server_api import connected
from bench.server_stream import LeanSubscriber, Reading
from yoi.client import RuntimeClient

BENCH = "backend_stream"
DELTAS = 40_000
PAIRS = 7
RUNS = 1_000
WARMUP_RUNS = 20
EVENTS_PER_RUN = 7
DEADLINE = 120.0

_IDLE = b'"status":"idle"'
_INPUT = {"kind": "user", "content": "ping"}

S = TypeVar("S", bound=LeanSubscriber)


def direct_path(worker_id: str) -> str:
    return f"/v1/workers/{worker_id}/events/ws"


def backend_path(worker_id: str) -> str:
    return f"/api/runtimes/{remote_id(0)}/workers/{worker_id}/events/ws"


class StampingSubscriber(LeanSubscriber):
    """Keeps every frame after the snapshot with when it arrived; ``idle`` is set at each idle."""

    def __init__(self, host: str, path: str) -> None:
        super().__init__(host, path)
        self.arrivals: list[tuple[float, bytes]] = []
        self.idle = asyncio.Event()

    def _message(self, payload: bytes) -> None:
        if not self.snapshot.done():
            self.snapshot.set_result(None)
            return
        self.arrivals.append((time.perf_counter(), payload))
        if _IDLE in payload:
            self.idle.set()

    def by_seq(self) -> dict[int, float]:
        return {int(json.loads(payload)["seq"]): at for at, payload in self.arrivals}


async def _open(make: Callable[[str, str], S], url: str, path: str) -> S:
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    loop = asyncio.get_running_loop()
    made = await loop.create_connection(lambda: make(address.netloc, path), host, port)
    return made[1]


class Watches:
    """The CPU use of the runtime, the backend and this process over the same span."""

    def __init__(self, runtime: ServerProcess, backend: ServerProcess) -> None:
        self._runtime, self._backend = runtime.watch(), backend.watch()
        self._own, self._wall = time.process_time(), time.perf_counter()

    def stop(self) -> tuple[CpuUse, CpuUse, CpuUse]:
        own = CpuUse(time.process_time() - self._own, time.perf_counter() - self._wall)
        return self._runtime.stop(), self._backend.stop(), own


def _cpu(uses: tuple[CpuUse, CpuUse, CpuUse], events: int) -> str:
    named = zip(("runtime", "backend", "bench"), uses, strict=True)
    return ", ".join(
        f"{name} {100 * use.share:.0f}% ({use.micros_per(events):.1f} µs/event)"
        for name, use in named
    )


@dataclass(frozen=True, slots=True)
class Streamed:
    reading: Reading
    cpu: tuple[CpuUse, CpuUse, CpuUse]


@dataclass(slots=True)
class Series:
    runs: list[Streamed] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(run.reading.rate for run in self.runs)

    def note(self) -> str:
        shares = [
            statistics.median(run.cpu[index].share for run in self.runs) for index in range(3)
        ]
        costs = [
            statistics.median(run.cpu[index].micros_per(run.reading.deltas) for run in self.runs)
            for index in range(3)
        ]
        named = zip(("runtime", "backend", "bench"), shares, costs, strict=True)
        text = "CPU " + ", ".join(
            f"{name} {100 * share:.0f}% ({cost:.1f} µs/delta)" for name, share, cost in named
        )
        endings = {run.reading.ended for run in self.runs} - {"run_finished"}
        if endings:
            text += f"; a reader was CUT ({', '.join(sorted(endings))})"
        return text


async def _stream(
    client: RuntimeClient, runtime: ServerProcess, backend: ServerProcess, via: ServerProcess
) -> Streamed:
    """One run of ``DELTAS`` deltas to one subscriber reading from ``via``."""
    worker_id = (await client.create_worker()).worker_id
    path = direct_path if via is runtime else backend_path
    subscriber = await _open(LeanSubscriber, via.url, path(worker_id))
    try:
        async with asyncio.timeout(DEADLINE):
            await subscriber.snapshot
            watches = Watches(runtime, backend)
            await client.send_input(worker_id, "stream")
            reading = await subscriber.done
            cpu = watches.stop()
    finally:
        subscriber.close()
    return Streamed(reading, cpu)


async def _throughput() -> tuple[Series, Series, list[float]]:
    direct, relayed = Series(), Series()
    turns = 2 * PAIRS + 2
    async with (
        serving(events=DELTAS, turns=turns) as runtime,
        backend_serving(runtime.url) as backend,
        RuntimeClient(runtime.url) as client,
    ):
        await _stream(client, runtime, backend, runtime)  # warm up
        await _stream(client, runtime, backend, backend)
        for index in range(PAIRS):  # alternating which goes first, so drift cancels
            order = (runtime, backend) if index % 2 else (backend, runtime)
            for via in order:
                (direct if via is runtime else relayed).runs.append(
                    await _stream(client, runtime, backend, via)
                )
    ratios = [
        b.reading.rate / a.reading.rate for a, b in zip(direct.runs, relayed.runs, strict=True)
    ]
    return direct, relayed, ratios


@dataclass(frozen=True, slots=True)
class Latency:
    added: list[float]
    """Milliseconds, per event."""
    first: list[float]
    """Milliseconds, for the first event of each run (no event ahead of it in the relay)."""
    cpu: tuple[CpuUse, CpuUse, CpuUse]


async def _latency() -> Latency:
    async with (
        serving(events=1, turns=WARMUP_RUNS + RUNS) as runtime,
        backend_serving(runtime.url) as backend,
        RuntimeClient(runtime.url) as client,
        connected(runtime.url) as (sender,),
    ):
        worker_id = (await client.create_worker()).worker_id
        send = partial(sender.request, "POST", f"/v1/workers/{worker_id}/input", _INPUT)
        direct = await _open(StampingSubscriber, runtime.url, direct_path(worker_id))
        relayed = await _open(StampingSubscriber, backend.url, backend_path(worker_id))
        pair = (direct, relayed)
        try:
            async with asyncio.timeout(DEADLINE):
                for subscriber in pair:
                    await subscriber.snapshot
                for index in range(WARMUP_RUNS + RUNS):
                    if index == WARMUP_RUNS:
                        for subscriber in pair:
                            subscriber.arrivals.clear()
                        watches = Watches(runtime, backend)
                    for subscriber in pair:
                        subscriber.idle.clear()
                    await send()
                    for subscriber in pair:
                        await subscriber.idle.wait()
                cpu = watches.stop()
        finally:
            for subscriber in pair:
                subscriber.close()
    return _added(direct.by_seq(), relayed.by_seq(), cpu)


def _added(
    direct: dict[int, float], relayed: dict[int, float], cpu: tuple[CpuUse, CpuUse, CpuUse]
) -> Latency:
    if direct.keys() != relayed.keys() or len(direct) != RUNS * EVENTS_PER_RUN:
        raise RuntimeError(
            f"the two subscribers saw different events: {len(direct)} direct, "
            f"{len(relayed)} through the backend, {RUNS * EVENTS_PER_RUN} expected"
        )
    seqs = sorted(direct)
    added = [1000 * (relayed[seq] - direct[seq]) for seq in seqs]
    first = added[::EVENTS_PER_RUN]
    return Latency(added, first, cpu)


async def measure() -> list[Result]:
    load = load_note()
    direct, relayed, ratios = await _throughput()
    latency = await _latency()
    added, count = latency.added, len(latency.added)
    return [
        Result(
            BENCH,
            "throughput through the backend / direct",
            statistics.median(ratios),
            "x",
            0.7,
            "min",
            f"median of {PAIRS} back-to-back pairs (ratios {min(ratios):.2f} to "
            f"{max(ratios):.2f}) of one lean subscriber, runs of {DELTAS:,} deltas; {load}",
        ),
        Result(
            BENCH,
            "1 subscriber through the backend",
            relayed.rate,
            "events/s",
            note=f"context: median of {PAIRS} runs; {relayed.note()}",
        ),
        Result(
            BENCH,
            "1 subscriber direct from the runtime",
            direct.rate,
            "events/s",
            note=f"context: median of {PAIRS} runs; {direct.note()}",
        ),
        Result(
            BENCH,
            "latency added by the backend p50",
            p50(added),
            "ms",
            1.0,
            "max",
            f"{count:,} events of {RUNS} runs ({EVENTS_PER_RUN} events each, one input at a "
            f"time); p90 {percentile(added, 0.9):.3f} ms, max {max(added):.3f} ms; the first "
            f"event of each run p50 {p50(latency.first):.3f} ms; "
            f"CPU {_cpu(latency.cpu, count)}",
        ),
        Result(
            BENCH,
            "latency added by the backend p99",
            percentile(added, 0.99),
            "ms",
            5.0,
            "max",
            f"over the same {count:,} events",
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
