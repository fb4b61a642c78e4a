"""Serving an ASGI app on a socket inside the caller's event loop (uvicorn underneath).

The socket is bound before the server starts, so the address (port 0 picks a
free port) is known at once and connections queue until the server is up.
The caller owns the process's signals; leaving the context shuts the server
down gracefully.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from yoi.errors import AddressInUse, InvalidRequest
from yoi.server.connections import AcceptFailures, ConnectionLimits, protocols

__all__ = ["DEFAULT_LIMITS", "Listener", "listening"]

log = logging.getLogger("yoi.server")

_GRACEFUL_SECONDS = 2
DEFAULT_LIMITS = ConnectionLimits()


class _DenialNoise(logging.Filter):
    """Drop uvicorn's error line for a refused upgrade.

    Its sans-I/O WebSocket protocol logs "returned without completing
    handshake" after an app sends a denial response (our 401/403/404 before
    an upgrade), which is a complete, deliberate answer.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


_DENIAL_NOISE = _DenialNoise()


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the process, not the server, decides what a signal means


@dataclass(slots=True)
class Listener:
    host: str
    port: int
    _server: _Server

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop_accepting(self) -> None:
        for server in self._server.servers:
            server.close()


@asynccontextmanager
async def listening(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    ping_interval: float = 20.0,
    limits: ConnectionLimits = DEFAULT_LIMITS,
) -> AsyncIterator[Listener]:
    """Serve ``app`` on ``host:port`` until the block ends, each connection within ``limits``."""
    sock = _bind(host, port)
    logging.getLogger("uvicorn.error").addFilter(_DENIAL_NOISE)  # the same filter, added once
    http, ws = protocols(limits)
    config = uvicorn.Config(
        app,
        lifespan="off",
        http=http,
        ws=ws,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        ws_max_size=limits.max_message_bytes,
        ws_ping_interval=ping_interval,
        ws_ping_timeout=ping_interval,
        ws_per_message_deflate=False,  # small JSON frames: zlib per frame costs more than it saves
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=_GRACEFUL_SECONDS,
        backlog=limits.accept_burst(),
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(AcceptFailures(previous))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    bound_host, bound_port = sock.getsockname()[:2]
    try:
        yield Listener(bound_host, bound_port, server)
    finally:
        server.should_exit = True
        try:
            await task
        except Exception:  # uvicorn closing a socket its peer is already closing
            log.warning("the server did not finish shutting down cleanly", exc_info=True)
        finally:
            loop.set_exception_handler(previous)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket.

    It is made with an explicit ``IPPROTO_TCP`` because asyncio turns Nagle's
    algorithm off only for such sockets' connections; without that, a response
    written in two parts waits ~40 ms for the peer's delayed ACK.
    """
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError as error:
        raise _cannot_listen(host, port, error) from error
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(512)
    except OSError as error:
        sock.close()
        raise _cannot_listen(host, port, error) from error
    return sock


def _cannot_listen(host: str, port: int, error: OSError) -> InvalidRequest:
    kind = AddressInUse if error.errno == errno.EADDRINUSE else InvalidRequest
    return kind(
        f"cannot listen on {host}:{port}: {error.strerror or error}", details={"field": "bind"}
    )
