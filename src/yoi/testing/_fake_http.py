"""A small HTTP/1.1 server on loopback, enough for the fake provider servers.

One request per connection (every answer says ``Connection: close``). A
streamed answer uses chunked transfer encoding, so a stream closed before its
last chunk is a broken stream to the client, as it would be on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Self

__all__ = ["FakeHttpServer", "HttpRequest", "HttpResponse"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request as it arrived; header names are lower-cased."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class HttpResponse:
    """Writes the answer to one request: a whole body, or a chunked stream."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        extra = {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})}
        self._writer.write(_head(status, extra) + body)
        await self._writer.drain()

    async def start_stream(self, *, content_type: str) -> None:
        extra = {"Content-Type": content_type, "Transfer-Encoding": "chunked"}
        self._writer.write(_head(200, extra))
        await self._writer.drain()

    async def write(self, data: bytes) -> None:
        """Send ``data`` as one chunk of a started stream."""
        self._writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await self._writer.drain()

    async def end_stream(self) -> None:
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()

    def cut(self) -> None:
        """Close the connection now, whatever was or was not sent."""
        self._writer.close()


Handler = Callable[[HttpRequest, HttpResponse], Awaitable[None]]


class FakeHttpServer:
    """Serves ``handler`` on ``127.0.0.1`` at a free port while the context is open.

    Leaving the context cancels every request still being answered (a stalled
    stream, say) and closes every connection.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._base_url: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; it stays readable after the server closed."""
        if self._base_url is None:
            raise RuntimeError("the fake HTTP server was never started")
        return self._base_url

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self._base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._server.wait_closed()
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The answer runs in a task of its own so that shutting down can cancel it
        # without cancelling asyncio's connection callback, which would log noise.
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        await asyncio.wait([task])
        self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is not None:
                await self._handler(request, HttpResponse(writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the client hung up: there is nobody left to answer
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _version = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()).strip():
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return HttpRequest(method, target.split("?", 1)[0], headers, body)


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # 529 and other statuses the stdlib does not name
        return "Error"
