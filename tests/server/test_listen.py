"""Serving in the caller's loop: the socket, its address, and what its connections do."""

from __future__ import annotations

import asyncio
import socket

import pytest

from yoi.errors import InvalidRequest
from yoi.runtime import Runtime
from yoi.server import create_app
from yoi.server.listen import _bind as bind
from yoi.server.listen import listening

DEADLINE = 10.0


async def test_accepted_connections_send_small_writes_at_once() -> None:
    """Nagle's algorithm is off, or a response in two writes waits ~40 ms for an ACK.

    asyncio turns it off only on connections of a socket made with IPPROTO_TCP,
    which is what the listening socket must be.
    """
    loop = asyncio.get_running_loop()
    nodelay: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            nodelay.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    listener = bind("127.0.0.1", 0)
    async with await loop.create_server(Probe, sock=listener):
        _, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
        async with asyncio.timeout(DEADLINE):
            assert await nodelay != 0
        writer.close()


async def test_port_zero_picks_a_free_port_that_is_listening_at_once() -> None:
    async with Runtime() as runtime, listening(create_app(runtime), "127.0.0.1", 0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        with socket.create_connection((server.host, server.port), timeout=DEADLINE):
            pass


async def test_an_address_in_use_is_a_typed_error() -> None:
    async with Runtime() as runtime, listening(create_app(runtime), "127.0.0.1", 0) as server:
        with pytest.raises(InvalidRequest, match=r"cannot listen on 127\.0\.0\.1"):
            async with listening(create_app(runtime), "127.0.0.1", server.port):
                pass
