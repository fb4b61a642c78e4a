"""Hostile connections against a real server: header bombs, slowloris, floods, descriptors.

The in-process tests serve a runtime's app on 127.0.0.1 with short limits;
the process tests start ``yoi runtime serve`` itself, where memory and
descriptors are the point.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.server.test_process import Launcher
from tests.server.threaded import ThreadedServer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from yoi.runtime import Runtime
from yoi.server import create_app
from yoi.server.connections import ConnectionLimits
from yoi.server.listen import Listener, listening

DEADLINE = 10.0
SHORT = ConnectionLimits(header_timeout=0.3, body_timeout=0.3, max_header_bytes=4096)
HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@asynccontextmanager
async def served(limits: ConnectionLimits = SHORT) -> AsyncIterator[Listener]:
    async with (
        Runtime() as runtime,
        listening(create_app(runtime), "127.0.0.1", 0, limits=limits) as listener,
    ):
        yield listener


class Peer:
    """A raw TCP client of the server under test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def answer(self) -> bytes:
        """Everything the server sends until it closes, within the deadline; b"" on a reset."""
        try:
            async with asyncio.timeout(DEADLINE):
                return await self.reader.read()
        except ConnectionResetError:
            return b""

    async def closed_within(self, seconds: float) -> bool:
        """Whether the server closes the connection within ``seconds``."""
        try:
            async with asyncio.timeout(seconds):
                await self.reader.read()
        except TimeoutError:
            return False
        except ConnectionResetError:
            pass
        return True


class Peers:
    """Opens raw connections to a port, and closes them all when the test ends."""

    def __init__(self) -> None:
        self._opened: list[Peer] = []

    async def open(self, port: int, data: bytes = b"") -> Peer:
        peer = Peer(*await asyncio.open_connection("127.0.0.1", port))
        self._opened.append(peer)
        peer.send(data)
        return peer

    async def aclose(self) -> None:
        for peer in self._opened:
            peer.writer.close()
            with contextlib.suppress(OSError):
                await peer.writer.wait_closed()


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    opened = Peers()
    try:
        yield opened
    finally:
        await opened.aclose()


async def health(url: str) -> int:
    async with httpx.AsyncClient(timeout=DEADLINE) as http:
        return (await http.get(f"{url}/v1/health")).status_code


# -- header bombs ----------------------------------------------------------------


def head(size: int) -> bytes:
    """A GET for health whose head (request line, headers, blank line) is ``size`` bytes."""
    start = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Pad: "
    return start + b"p" * (size - len(start) - 4) + b"\r\n\r\n"


@pytest.mark.parametrize("size", [SHORT.max_header_bytes - 1, SHORT.max_header_bytes])
async def test_a_head_up_to_the_cap_is_answered(peers: Peers, size: int) -> None:
    async with served() as listener:
        reply = await (await peers.open(listener.port, head(size))).answer()
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:100]


async def test_a_head_over_the_cap_in_one_write_is_refused_with_431(peers: Peers) -> None:
    async with served() as listener:
        peer = await peers.open(listener.port, head(SHORT.max_header_bytes + 1))
        reply = await peer.answer()
        assert await health(listener.url) == 200
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:100]


async def test_a_head_that_keeps_growing_is_refused_with_431_once_past_the_cap(
    peers: Peers,
) -> None:
    piece = b"X-Bomb: " + b"b" * 1000 + b"\r\n"
    async with served(ConnectionLimits(max_header_bytes=SHORT.max_header_bytes)) as listener:
        peer = await peers.open(listener.port, b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent, status = 0, b""
        while not status and sent < 100 * len(piece):
            peer.send(piece)
            sent += len(piece)
            status = await first_line(peer, 0.2)
        assert await health(listener.url) == 200
    assert status.startswith(b"HTTP/1.1 431 "), status
    assert sent <= SHORT.max_header_bytes + 2 * len(piece)


async def first_line(peer: Peer, seconds: float) -> bytes:
    """The first line of an answer, if one comes within ``seconds``; else b""."""
    try:
        async with asyncio.timeout(seconds):
            return await peer.reader.readuntil(b"\r\n")
    except TimeoutError:
        return b""


@asynccontextmanager
async def capped_runtime() -> AsyncIterator[str]:
    limits = ConnectionLimits(max_header_bytes=SHORT.max_header_bytes)
    async with served(limits) as listener:
        yield listener.url


@pytest.fixture(scope="module")
def capped_url() -> Iterator[str]:
    with ThreadedServer(capped_runtime) as url:
        yield url


def exchange(url: str, pieces: list[bytes]) -> bytes:
    """Send ``pieces`` one write each on a fresh connection; what comes back, b"" on a reset."""
    port = int(url.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        received = b""
        try:
            for piece in pieces:
                sock.sendall(piece)
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        return received


@given(
    size=st.integers(min_value=200, max_value=3 * SHORT.max_header_bytes),
    cuts=st.lists(st.integers(min_value=1, max_value=3 * SHORT.max_header_bytes), max_size=6),
)
@settings(max_examples=60, deadline=None)
def test_a_head_is_answered_exactly_when_it_fits_however_it_is_split(
    capped_url: str, size: int, cuts: list[int]
) -> None:
    request = head(size)
    bounds = sorted({cut for cut in cuts if cut < size})
    pieces = [request[start:end] for start, end in zip([0, *bounds], [*bounds, size], strict=True)]
    reply = exchange(capped_url, pieces)
    if size <= SHORT.max_header_bytes:
        assert reply.startswith(b"HTTP/1.1 200 "), (size, bounds, reply[:60])
    else:  # refused: 431, unless the refusal was lost to a reset while the rest was sent
        assert reply == b"" or reply.startswith(b"HTTP/1.1 431 "), (size, bounds, reply[:60])


# -- slowloris ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"],
    ids=["nothing", "half a head"],
)
async def test_a_connection_that_does_not_finish_its_head_is_closed(
    peers: Peers, sent: bytes
) -> None:
    async with served() as listener:
        peer = await peers.open(listener.port, sent)
        started = time.monotonic()
        assert await peer.answer() == b""
        assert time.monotonic() - started >= SHORT.header_timeout * 0.9


async def test_a_keep_alive_connection_that_starts_a_head_and_stalls_is_closed(
    peers: Peers,
) -> None:
    async with served() as listener:
        peer = await peers.open(listener.port, HEALTH)
        async with asyncio.timeout(DEADLINE):
            status = await peer.reader.readline()
        peer.send(b"GET /v1/health HTTP/1.1\r\n")
        assert status.startswith(b"HTTP/1.1 200 ")
        assert await peer.closed_within(DEADLINE)


CHUNKED = (
    b"POST /v1/workers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


async def test_a_chunked_body_that_stops_is_closed(peers: Peers) -> None:
    async with served() as listener:
        peer = await peers.open(listener.port, CHUNKED + b"1\r\n{\r\n")
        assert await peer.closed_within(DEADLINE)


async def test_a_body_that_trickles_forever_is_closed_after_the_body_timeout(
    peers: Peers,
) -> None:
    async with served() as listener:
        peer = await peers.open(listener.port, CHUNKED)
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < DEADLINE:
            peer.send(b"1\r\n \r\n")  # a byte every few ms would satisfy any read timeout
            closed = await peer.closed_within(0.02)
        assert closed
        assert time.monotonic() - started < SHORT.body_timeout + 2


async def test_other_clients_are_served_while_a_body_stalls(peers: Peers) -> None:
    async with served() as listener:
        stalled = await peers.open(listener.port, CHUNKED + b"1\r\n{\r\n")
        async with httpx.AsyncClient(base_url=listener.url, timeout=DEADLINE) as http:
            created = await http.post("/v1/workers", json={})
            assert await stalled.closed_within(DEADLINE)
            listed = (await http.get("/v1/workers")).json()["workers"]
    assert created.status_code == 201
    assert [worker["worker_id"] for worker in listed] == [created.json()["worker"]["worker_id"]]


async def test_a_websocket_message_over_the_limit_closes_the_stream_1009() -> None:
    limits = ConnectionLimits(max_message_bytes=1024)
    async with Runtime() as runtime:
        worker = await runtime.create_worker()
        async with listening(create_app(runtime), "127.0.0.1", 0, limits=limits) as listener:
            url = f"ws://127.0.0.1:{listener.port}/v1/workers/{worker.worker_id}/events/ws"
            async with connect(url, open_timeout=DEADLINE) as ws:
                async with asyncio.timeout(DEADLINE):
                    await ws.recv()  # the snapshot
                    await ws.send("x" * 2048)
                    with pytest.raises(ConnectionClosed) as closed:
                        await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


# -- the connection cap ------------------------------------------------------------


async def test_at_the_cap_a_newcomer_replaces_the_longest_waiting_connection(
    peers: Peers,
) -> None:
    async with served(ConnectionLimits(max_connections=4)) as listener:
        idle = [await peers.open(listener.port) for _ in range(10)]
        assert await health(listener.url) == 200
        closed = [await peer.closed_within(0.3) for peer in idle]
    # Six made room for the last four idle ones, a seventh for the health check.
    assert closed == [True] * 7 + [False] * 3


async def test_at_the_cap_with_every_connection_busy_a_newcomer_is_closed(peers: Peers) -> None:
    async with Runtime() as runtime:
        worker = await runtime.create_worker()
        app = create_app(runtime)
        limits = ConnectionLimits(max_connections=3)
        async with listening(app, "127.0.0.1", 0, limits=limits) as listener:
            busy = [await upgraded(peers, listener.port, worker.worker_id) for _ in range(3)]
            refused = await (await peers.open(listener.port, HEALTH)).answer()
            busy[0].writer.close()
            assert await health(listener.url) == 200
    assert refused == b""


async def upgraded(peers: Peers, port: int, worker_id: str) -> Peer:
    """A connection that has become an observation stream: busy, not waiting for a head."""
    upgrade = (
        f"GET /v1/workers/{worker_id}/events/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    peer = await peers.open(port, upgrade.encode())
    async with asyncio.timeout(DEADLINE):
        response = await peer.reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101 "), response
    return peer


# -- descriptors -------------------------------------------------------------------


async def test_a_failed_accept_is_one_log_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    passed: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: passed.append(context))
    try:
        async with served():
            failure = OSError(errno.EMFILE, "Too many open files")
            with caplog.at_level(logging.WARNING, logger="yoi.server"):
                for _ in range(5):
                    loop.call_exception_handler(
                        {"message": "socket.accept() out of system resource", "exception": failure}
                    )
            loop.call_exception_handler({"message": "something else"})
    finally:
        loop.set_exception_handler(None)
    lines = [record for record in caplog.records if record.name == "yoi.server"]
    assert [record.getMessage() for record in lines] == [
        "cannot accept connections (Too many open files); retrying every second"
    ]
    assert lines[0].exc_info is None
    assert passed == [{"message": "something else"}]


# -- the real process ----------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_a_header_bomb_is_refused_at_once_and_costs_the_process_no_memory(
    launcher: Launcher, peers: Peers
) -> None:
    runtime = await launcher.serve()
    pid, port = runtime.process.pid, int(runtime.url.rpartition(":")[2])
    before = rss_kib(pid)
    peer = await peers.open(port, b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    line = b"X-Bomb: " + b"b" * 8000 + b"\r\n"
    with contextlib.suppress(ConnectionError):
        async with asyncio.timeout(DEADLINE):
            for _ in range(16 * 1024 * 1024 // len(line)):  # 16 MiB, if the server would take it
                peer.send(line)
                await peer.writer.drain()
    reply = await peer.answer()
    grown = rss_kib(pid) - before
    assert await health(runtime.url) == 200
    done = await launcher.stop(runtime)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 431 "), reply[:100]
    assert grown < 4 * 1024, f"RSS grew by {grown} KiB"
    assert done.code == 0, done.err


async def test_a_flood_past_the_descriptor_limit_leaves_health_answering_and_logs_no_traceback(
    launcher: Launcher,
) -> None:
    runtime = await launcher.serve(max_files=64)
    port = int(runtime.url.rpartition(":")[2])
    flood = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(300)]
    try:
        for sock in flood:  # connect without waiting: the kernel keeps knocking
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
        status = await health(runtime.url)
    finally:
        for sock in flood:
            sock.close()
    done = await launcher.stop(runtime)
    assert status == 200
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    assert len(done.err.splitlines()) <= 1, done.err
