"""One worker streaming deltas over WebSocket, from one server process to subscribers on loopback.

Targets: ≥ 20,000 events/s to one subscriber; ≥ 40,000 frames/s in total to
50 subscribers; one stalled subscriber leaves the others at ≥ 90% of their
throughput.

The server (``bench._server``) runs a ``ScriptedModel`` whose turns stream
four-byte text chunks, suspending between chunks as a provider waiting on its
network does; each scenario is one run of a fresh worker, and every subscriber
has its snapshot before the input is sent. A subscriber's rate is the
``text_delta`` frames it received over the time from its first to its last;
the total of many is their sum over the time from the first delta any of them
received to the last.

The machine's cores are shared by the server and this process, so fifty
subscribers here must cost less than the server or they would be what is
measured: :class:`LeanSubscriber` speaks just enough WebSocket over an
``asyncio.Protocol`` (the handshake ``websockets`` sends, permessage-deflate
included, so the server does what it does for ``RuntimeClient``; unmasked
frames in, pongs out) and only looks for the event type in each frame. The
one-subscriber target reads through ``RuntimeClient.subscribe`` (frames parsed
into events); a lean subscriber's figure comes as context. The stalled
subscriber completes the handshake and then never reads, without compression
(so fewer frames hide in socket buffers before the server's queue,
``subscriber_queue`` 4,096, takes the rest); it is paired
with a run without it, back to back (which goes first alternates), and the
figure is the median ratio over pairs of the others' total rate. A run of
fifty is too short for a stalled subscriber to get past the socket buffers, so
one long run beside a single reader shows it being cut, as context. Each note
gives the server's CPU use while the readers read, as a share of one core and
per delta frame delivered. The machine's load moves these figures by ±20%
from run to run; compare medians, on a quiet machine.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench._report import Result, run_bench
from bench._server import CpuUse, ServerProcess, load_note, serving
from yoi.client import RemoteSubscription, RuntimeClient
from yoi.errors import SlowConsumer
from yoi.runtime.events import RunFinished, TextDeltaEvent

BENCH = "server_stream"
ONE_DELTAS = 40_000
ONE_REPEATS = 5
MANY_DELTAS = 2_000
READERS = 50
PAIRS = 6
DEADLINE = 120.0
DRAIN_SECONDS = 30.0

_DELTA = b'"type":"text_delta"'
_FINISHED = b'"type":"run_finished"'
_DIAGNOSTIC = b'{"kind":"diagnostic"'
_TAIL = b"\x00\x00\xff\xff"  # what permessage-deflate strips from each message


@dataclass(slots=True)
class Reading:
    """What one subscriber received: deltas, when the first and last came, how it ended."""

    deltas: int = 0
    first: float = 0.0
    last: float = 0.0
    ended: str = ""

    @property
    def rate(self) -> float:
        return (self.deltas - 1) / (self.last - self.first) if self.deltas > 1 else 0.0


class LeanSubscriber(asyncio.Protocol):
    """An observation stream client that counts ``text_delta`` frames and little else.

    It ends (``done``) at ``run_finished``, a diagnostic (its code) or a close
    (``closed CODE``).
    """

    def __init__(self, host: str, path: str, *, deflate: bool = True) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{offer if deflate else ''}\r\n"
        ).encode()
        self._buffer = bytearray()
        self._upgraded = False
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.snapshot: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[Reading] = loop.create_future()
        self.reading = Reading()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("connection lost")
        if not self.snapshot.done():
            reason = self.reading.ended
            self.snapshot.set_exception(ConnectionError(f"no snapshot came: {reason}"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            head, found, _ = self._buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(f"the upgrade was refused: {bytes(head[:40])!r}")
                return
            del self._buffer[: len(head) + 4]
            self._upgraded = True
        self._frames()

    def _frames(self) -> None:
        buffer, at, size = self._buffer, 0, len(self._buffer)
        while size - at >= 2:
            first, length = buffer[at], buffer[at + 1] & 0x7F
            start = at + 2
            if length == 126:
                length, start = int.from_bytes(buffer[start : start + 2]), start + 2
            elif length == 127:
                length, start = int.from_bytes(buffer[start : start + 8]), start + 8
            if size < start + length:
                break
            self._frame(first, bytes(buffer[start : start + length]))
            at = start + length
        del buffer[:at]

    def _frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        if opcode == 0x1:
            if first & 0x40:  # RSV1: compressed
                payload = self._inflate.decompress(payload + _TAIL)
            self._message(payload)
        elif opcode == 0x8:
            code = int.from_bytes(payload[:2]) if len(payload) >= 2 else None
            self._end(f"closed {code}")
        elif opcode == 0x9:
            self._send(0xA, payload)
        elif opcode == 0x0:
            self._fail("a fragmented message, which this subscriber does not expect")

    def _message(self, payload: bytes) -> None:
        reading = self.reading
        if not self.snapshot.done():
            self.snapshot.set_result(None)
        elif _DELTA in payload:
            reading.last = time.perf_counter()
            reading.first = reading.first or reading.last
            reading.deltas += 1
        elif _FINISHED in payload:
            self._end("run_finished")
        elif payload.startswith(_DIAGNOSTIC):
            self._end(str(json.loads(payload)["code"]))

    def _fail(self, why: str) -> None:
        self._end(why)
        if self._transport is not None:
            self._transport.close()

    def _end(self, how: str) -> None:
        if not self.done.done():
            self.reading.ended = how
            self.done.set_result(self.reading)

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def stall(self) -> None:
        assert self._transport is not None
        self._transport.pause_reading()

    def resume(self) -> None:
        assert self._transport is not None
        self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._send(0x8, (1000).to_bytes(2))
            self._transport.close()


async def subscribe(url: str, worker_id: str, *, deflate: bool = True) -> LeanSubscriber:
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    path = f"/v1/workers/{worker_id}/events/ws"
    loop = asyncio.get_running_loop()
    made = await loop.create_connection(
        lambda: LeanSubscriber(address.netloc, path, deflate=deflate), host, port
    )
    return made[1]


@dataclass(frozen=True, slots=True)
class Scenario:
    readings: tuple[Reading, ...]
    stalled: tuple[Reading, ...]
    server: CpuUse
    """The server's CPU use from sending the input until every reader was done."""

    @property
    def server_us(self) -> float:
        """Server CPU microseconds per delta frame received."""
        return self.server.micros_per(sum(r.deltas for r in self.readings))

    @property
    def total(self) -> float:
        span = max(r.last for r in self.readings) - min(r.first for r in self.readings)
        return (sum(r.deltas for r in self.readings) - 1) / span

    @property
    def slowest(self) -> float:
        return min(r.rate for r in self.readings)

    @property
    def cut(self) -> int:
        return sum(r.ended != "run_finished" for r in self.readings)


async def scenario(
    client: RuntimeClient, server: ServerProcess, readers: int, *, stalled: int = 0
) -> Scenario:
    worker_id = (await client.create_worker()).worker_id
    idle = [await subscribe(server.url, worker_id, deflate=False) for _ in range(stalled)]
    live = [await subscribe(server.url, worker_id) for _ in range(readers)]
    try:
        async with asyncio.timeout(DEADLINE):
            for subscriber in idle:
                await subscriber.snapshot
                subscriber.stall()
            for subscriber in live:
                await subscriber.snapshot
            watch = server.watch()
            await client.send_input(worker_id, "stream")
            readings = [await subscriber.done for subscriber in live]
            use = watch.stop()
        drained = [await _drain(subscriber) for subscriber in idle]
    finally:
        for subscriber in (*idle, *live):
            subscriber.close()
    return Scenario(tuple(readings), tuple(drained), use)


async def _drain(subscriber: LeanSubscriber) -> Reading:
    """What a stalled subscriber gets once it reads again, up to how its stream ended."""
    subscriber.resume()
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            return await subscriber.done
    except TimeoutError:
        subscriber.reading.ended = f"no end within {DRAIN_SECONDS:.0f} s of reading again"
        return subscriber.reading


async def _read_typed(subscription: RemoteSubscription) -> Reading:
    reading = Reading()
    try:
        async for event in subscription:
            match event.event:
                case TextDeltaEvent():
                    reading.last = time.perf_counter()
                    reading.first = reading.first or reading.last
                    reading.deltas += 1
                case RunFinished():
                    reading.ended = "run_finished"
                    return reading
    except SlowConsumer:
        reading.ended = "slow_consumer"
        return reading
    reading.ended = f"closed {subscription.close_code}"
    return reading


async def typed_scenario(client: RuntimeClient, server: ServerProcess) -> Scenario:
    worker_id = (await client.create_worker()).worker_id
    async with await client.subscribe(worker_id) as subscription:
        await anext(subscription)  # the snapshot
        task = asyncio.create_task(_read_typed(subscription))
        await asyncio.sleep(0)  # the reader now waits for the first live event
        watch = server.watch()
        await client.send_input(worker_id, "stream")
        async with asyncio.timeout(DEADLINE):
            reading = await task
        use = watch.stop()
    return Scenario((reading,), (), use)


@dataclass(slots=True)
class Series:
    """Scenarios of one kind; figures are medians over them."""

    runs: list[Scenario] = field(default_factory=list)

    @property
    def total(self) -> float:
        return statistics.median(run.total for run in self.runs)

    @property
    def slowest(self) -> float:
        return statistics.median(run.slowest for run in self.runs)

    def note(self, deltas: int) -> str:
        cpu = statistics.median(run.server.share for run in self.runs)
        cost = statistics.median(run.server_us for run in self.runs)
        text = (
            f"median of {len(self.runs)} runs of {deltas:,} deltas; "
            f"server CPU {100 * cpu:.0f}%, {cost:.1f} µs per frame"
        )
        cut = max(run.cut for run in self.runs)
        if cut:
            endings = {r.ended for run in self.runs for r in run.readings} - {"run_finished"}
            fewest = min(r.deltas for run in self.runs for r in run.readings)
            text += f"; {cut} reader(s) CUT ({', '.join(sorted(endings))}), fewest read {fewest:,}"
        return text


def _stalled_fate(series: Series, deltas: int) -> str:
    fates = [r for run in series.runs for r in run.stalled]
    endings = ", ".join(sorted({r.ended for r in fates}))
    got = ", ".join(f"{r.deltas:,}" for r in fates)
    text = f"the stalled one ended {endings} after {got} deltas"
    if all(r.deltas == deltas for r in fates):
        text += " (socket buffers held it all: it never reached its queue's bound)"
    return text


async def _one_subscriber() -> tuple[Series, Series, Scenario]:
    lean, typed = Series(), Series()
    turns = 2 * ONE_REPEATS + 2
    async with serving(events=ONE_DELTAS, turns=turns) as server, RuntimeClient(server.url) as c:
        await scenario(c, server, 1)  # warm up
        for _ in range(ONE_REPEATS):  # interleaved, so drift hits both alike
            lean.runs.append(await scenario(c, server, 1))
            typed.runs.append(await typed_scenario(c, server))
        beside = await scenario(c, server, 1, stalled=1)
    return lean, typed, beside


async def _many_subscribers() -> tuple[Series, Series]:
    alone, beside = Series(), Series()
    turns = 2 * PAIRS + 1
    async with serving(events=MANY_DELTAS, turns=turns) as server, RuntimeClient(server.url) as c:
        await scenario(c, server, READERS)  # warm up
        for index in range(PAIRS):  # alternating which goes first, so drift cancels
            if index % 2:
                beside.runs.append(await scenario(c, server, READERS, stalled=1))
            alone.runs.append(await scenario(c, server, READERS))
            if not index % 2:
                beside.runs.append(await scenario(c, server, READERS, stalled=1))
    return alone, beside


async def measure() -> list[Result]:
    load = load_note()
    lean, typed, long_stall = await _one_subscriber()
    alone, beside = await _many_subscribers()
    ratios = [b.total / a.total for a, b in zip(alone.runs, beside.runs, strict=True)]
    stalled = long_stall.stalled[0]
    return [
        Result(
            BENCH,
            "1 subscriber through RuntimeClient",
            typed.slowest,
            "events/s",
            20_000,
            "min",
            f"{typed.note(ONE_DELTAS)}; {load}",
        ),
        Result(
            BENCH,
            "1 lean subscriber",
            lean.slowest,
            "events/s",
            note=f"context: {lean.note(ONE_DELTAS)}",
        ),
        Result(
            BENCH,
            f"{READERS} subscribers, total",
            alone.total,
            "frames/s",
            40_000,
            "min",
            f"slowest {alone.slowest:,.0f}/s; {alone.note(MANY_DELTAS)}",
        ),
        Result(
            BENCH,
            f"{READERS} subscribers + 1 stalled, the others' throughput",
            100.0 * statistics.median(ratios),
            "%",
            90.0,
            "min",
            f"median of {PAIRS} back-to-back pairs (ratios {min(ratios):.2f} to "
            f"{max(ratios):.2f}), total {beside.total:,.0f} frames/s; "
            f"{beside.note(MANY_DELTAS)}; {_stalled_fate(beside, MANY_DELTAS)}",
        ),
        Result(
            BENCH,
            "stalled subscriber beside 1 reader, deltas until cut",
            stalled.deltas,
            "deltas",
            note=f"context: one run of {ONE_DELTAS:,} deltas; it ended {stalled.ended}; "
            f"the reader beside it ran at {100 * long_stall.slowest / lean.slowest:.0f}% "
            "of a lone lean reader's median rate",
        ),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
