"""What a server allows one connection: a bounded head, read deadlines, a cap, a WebSocket backlog.

Both servers (``yoi runtime serve`` and ``yoi serve``) speak HTTP/1.1 through
h11 and WebSocket through websockets, with the limits of one
:class:`ConnectionLimits`, all enforced before any route or credential is
looked at:

- a request head (request line and headers) over ``max_header_bytes`` is
  answered ``431`` and the connection closed, so a header bomb costs a few KB;
- a connection that has not sent a whole head ``header_timeout`` seconds after
  connecting (or after its previous response), or a whole body
  ``body_timeout`` seconds after its head, is closed (slowloris);
- at most :meth:`ConnectionLimits.cap` connections are open: a new one
  replaces the longest-waiting connection that has not sent a head, or is
  closed at once when every connection is busy, so a flood leaves descriptors
  to spare and a health check still gets through;
- a WebSocket stream reads :class:`Backlog` to cut a peer that leaves more than
  ``max_unsent_bytes`` unread for ``max_unsent_seconds``, while there is still
  room to tell it why (kernel buffers would otherwise hide a stopped reader
  until a ping timed out);
- if accepting fails for want of descriptors anyway, that is one log line a
  minute rather than a traceback per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from yoi.errors import SlowConsumer

__all__ = ["BACKLOG_EXTENSION", "AcceptFailures", "Backlog", "ConnectionLimits", "protocols"]

log = logging.getLogger("yoi.server")

BACKLOG_EXTENSION = "yoi.backlog"
"""The ASGI scope extension through which a WebSocket app reads its peer's backlog."""

_END_OF_HEAD = re.compile(rb"\n\r?\n")  # h11 accepts bare LF line endings too
_TOO_LARGE = b"request line and headers are too large\n"
_TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TOO_LARGE), _TOO_LARGE)
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one server allows each connection; tests shorten the timeouts."""

    max_header_bytes: int = 16 * 1024
    """The request line and headers of one request together."""
    header_timeout: float = 10.0
    """Seconds to send a whole request head, from connecting or from the previous response."""
    body_timeout: float = 60.0
    """Seconds to send a whole request body, from the end of its head."""
    max_connections: int = 512
    """Open connections at most; :meth:`cap` lowers it to half the descriptor limit."""
    max_unsent_bytes: int = 1024 * 1024
    """Bytes a WebSocket peer may leave unread in the server (beyond what the kernel holds)."""
    max_unsent_seconds: float = 5.0
    """How long a peer may stay over ``max_unsent_bytes`` before it is cut ``slow_consumer``."""
    max_message_bytes: int = 64 * 1024
    """The largest WebSocket message a peer may send (clients send only pings)."""

    def cap(self) -> int:
        """The cap: half the descriptor limit, leaving room for stores, tools and models."""
        return max(1, min(self.max_connections, _descriptor_limit() // 2))

    def accept_burst(self) -> int:
        """The listen backlog, which is also how many connections asyncio accepts at once.

        A connection over the cap is closed only a loop turn or two after it is
        accepted, and bursts can pile up meanwhile: a few of them must fit in
        the room the cap leaves.
        """
        return max(1, min(256, _descriptor_limit() // 16))


def _descriptor_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return sys.maxsize if soft == resource.RLIM_INFINITY else soft


@dataclass(frozen=True, slots=True)
class Backlog:
    """Whether a WebSocket peer keeps up: the server's buffer for it, drained or not.

    ``drained`` is clear while more than ``limit`` bytes wait for the peer
    (until it has read most of them). A stream waits up to ``patience``
    seconds for it before each frame: a peer that reads, however far behind,
    catches up; one that stopped is cut.
    """

    drained: asyncio.Event | None
    limit: int
    patience: float

    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> Backlog:
        """The backlog of the connection of ``scope``; never full on a server that keeps none."""
        found = scope.get("extensions", {}).get(BACKLOG_EXTENSION)
        if found is None:
            return cls(None, sys.maxsize, 0.0)
        return cls(found["drained"], found["limit"], found["patience"])

    async def wait(self) -> SlowConsumer | None:
        """Wait until the peer has room for more; ``slow_consumer`` if it does not make it."""
        if self.drained is None or self.drained.is_set():
            return None
        try:
            async with asyncio.timeout(self.patience):
                await self.drained.wait()
        except TimeoutError:
            return SlowConsumer(
                f"the client left over {self.limit} bytes unread for {self.patience:g} s and "
                "was disconnected; resume with its cursor"
            )
        return None


Phase = Literal["head", "body"]
ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class _Waiting:
    """Connections that have not sent a head yet, oldest first: those a newcomer may evict."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.connections: dict[_BoundedHttp, None] = {}

    def make_room(self, open_count: int) -> bool:
        """Evict the oldest waiting connection if ``open_count`` is over the cap; False if none."""
        if open_count <= self.cap:
            return True
        if not self.connections:
            return False
        oldest = next(iter(self.connections))
        oldest.expire()
        return True


class _BoundedHttp(H11Protocol):
    limits: ClassVar[ConnectionLimits]
    waiting: ClassVar[_Waiting]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._phase: Phase | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._upgraded = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.waiting.make_room(len(self.connections)):
            self.transport.close()
            return
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_too_large(data):
            self._refuse_head()
            return
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._upgraded = True
        self._leave()
        super().handle_websocket_upgrade(event)

    def send_400_response(self, msg: str) -> None:
        if len(self.conn.trailing_data[0]) > self.limits.max_header_bytes:
            self._refuse_head()  # h11 gave up on a head that kept growing
            return
        super().send_400_response(msg)

    def expire(self) -> None:
        """Close this connection: it took too long, or a newcomer needs its place."""
        self._leave()
        if not self.transport.is_closing():
            self.transport.close()

    def _head_too_large(self, data: bytes) -> bool:
        """Whether a head arriving in one read ends too late (h11 checks only across reads)."""
        if self.conn.their_state is not h11.IDLE:
            return False
        buffered = self.conn.trailing_data[0]
        room = self.limits.max_header_bytes - len(buffered)
        if len(data) <= room:
            return False
        return _END_OF_HEAD.search(buffered[-3:] + data[: max(room, 0)]) is None

    def _refuse_head(self) -> None:
        self._leave()
        self.transport.write(_TOO_LARGE_RESPONSE)
        self.transport.close()

    def _watch(self) -> None:
        """Start the deadline of the phase the connection is in, if it changed."""
        phase = self._current_phase()
        if phase == self._phase:
            return
        self._leave()
        self._phase = phase
        if phase is None:
            return
        if phase == "head":
            self.waiting.connections[self] = None
            seconds = self.limits.header_timeout
        else:
            seconds = self.limits.body_timeout
        self._deadline = self.loop.call_later(seconds, self.expire)

    def _current_phase(self) -> Phase | None:
        if self._upgraded or self.transport.is_closing():
            return None
        if self.conn.their_state is h11.IDLE:
            return "head"
        if self.conn.their_state is h11.SEND_BODY:
            return "body"
        return None  # the request is in; the app has it

    def _leave(self) -> None:
        self._phase = None
        self.waiting.connections.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


class _BoundedWebSocket(WebSocketsSansIOProtocol):
    """Flow control a stream can act on: it sees when its peer is full and may still say why.

    uvicorn makes every send wait while the buffer is over its high mark, so a
    stream stuck behind a peer that stopped reading could neither notice nor
    send the ``slow_consumer`` diagnostic. Here a send waits only past a hard
    bound (a stream that does not watch :class:`Backlog` stays bounded); below
    it, the stream waits on :class:`Backlog` and decides.
    """

    limits: ClassVar[ConnectionLimits]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._drained = asyncio.Event()
        self._drained.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.set_write_buffer_limits(high=self.limits.max_unsent_bytes)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._drained.set()  # nothing will drain now; waiting sends learn it from the disconnect

    def pause_writing(self) -> None:
        self._drained.clear()

    def resume_writing(self) -> None:
        self._drained.set()

    async def send(self, message: Any) -> None:
        hard = 4 * self.limits.max_unsent_bytes
        if message["type"] == "websocket.send" and self.transport.get_write_buffer_size() > hard:
            await self._drained.wait()
        await super().send(message)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            extensions = self.scope.setdefault("extensions", {})
            assert extensions is not None
            extensions[BACKLOG_EXTENSION] = {
                "drained": self._drained,
                "limit": self.limits.max_unsent_bytes,
                "patience": self.limits.max_unsent_seconds,
            }


def protocols(limits: ConnectionLimits) -> tuple[type[H11Protocol], type[WebSocketsSansIOProtocol]]:
    """The HTTP and WebSocket protocol classes of one server under ``limits``."""
    waiting = _Waiting(limits.cap())

    class Http(_BoundedHttp):
        pass

    class WebSocket(_BoundedWebSocket):
        pass

    Http.limits, Http.waiting, WebSocket.limits = limits, waiting, limits
    return Http, WebSocket


class AcceptFailures:
    """A loop exception handler that turns a failed accept into one log line a minute.

    asyncio reports every accept that fails for want of descriptors with a
    traceback, and retries each second; anything else goes to ``previous``.
    """

    def __init__(self, previous: ExceptionHandler | None) -> None:
        self._previous = previous
        self._logged_at: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if "_start_serving" in message and isinstance(context.get("exception"), OSError):
            return  # the retry after a failed accept, come after the server closed its socket
        if message != "socket.accept() out of system resource":
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < 60:
            return
        self._logged_at = now
        error = context.get("exception")
        reason = error.strerror if isinstance(error, OSError) else "out of resources"
        log.warning("cannot accept connections (%s); retrying every second", reason)
