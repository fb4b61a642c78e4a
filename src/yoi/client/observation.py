"""The client side of an observation stream: frames in, the runtime's events out.

A :class:`RemoteSubscription` iterates like the runtime's own
:class:`~yoi.runtime.Subscription`: the snapshot, the backlog, then live
events. A diagnostic frame is raised as its error class (``cursor_expired``,
``slow_consumer``, ...); the runtime shutting down ends the iteration; a
connection that drops otherwise is ``runtime_unavailable``.

:func:`open_stream` and :class:`FrameStream` are what every stream of these
rules shares (the orchestrator's, :mod:`yoi.client.orchestrator_events`):
opening with the token, and frames read as JSON objects with diagnostics
raised and closes turned into the end or ``runtime_unavailable``.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from yoi.client.errors import envelope_error, frame_error
from yoi.errors import RuntimeTimeout, RuntimeUnavailable, YoiError
from yoi.runtime import Event
from yoi.runtime.wire import read_event

__all__ = ["FrameStream", "RemoteSubscription", "close_stream", "connect_stream", "open_stream"]

_NORMAL_ENDS = {1000, 1001}
_TOO_BIG = 1009
_CLOSE_SECONDS = 1.0
"""How long closing waits for the server's close frame; frames left unread can delay it."""
MAX_FRAME_BYTES = 64 * 1024 * 1024
"""Frames are events and snapshots; a snapshot cuts long transcript entries, so this is ample."""


async def close_stream(connection: ClientConnection) -> None:
    """Close ``connection``; should the close be cut short (its task cancelled, as when an
    app shuts down), the socket is dropped at once rather than left open."""
    try:
        await connection.close()
    except BaseException:
        connection.transport.abort()
        raise


async def open_stream(
    url: str, token: str | None, *, peer: str = "runtime", open_timeout: float = 30.0
) -> ClientConnection:
    """The WebSocket at ``url``, upgraded; ``peer`` names the server in messages (no URL, no
    token). A refusal is raised as its envelope's error; a server that does not complete the
    upgrade within ``open_timeout`` seconds is ``runtime_timeout``."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        return await connect(
            url,
            additional_headers=headers,
            max_size=MAX_FRAME_BYTES,
            open_timeout=open_timeout,
            close_timeout=_CLOSE_SECONDS,
            compression=None,  # small JSON frames: compressing each costs more than it saves
        )
    except InvalidStatus as error:
        response = error.response
        raise envelope_error(response.status_code, bytes(response.body or b"")) from error
    except TimeoutError as error:
        raise RuntimeTimeout(
            f"the {peer} did not open the observation stream within {open_timeout:g} s"
        ) from error
    except (OSError, InvalidHandshake) as error:
        raise RuntimeUnavailable(
            f"cannot reach the {peer} to open the observation stream ({type(error).__name__})"
        ) from error


async def connect_stream(
    url: str, token: str | None, *, peer: str = "runtime", open_timeout: float = 30.0
) -> RemoteSubscription:
    """Open the worker stream at ``url`` (see :func:`open_stream`)."""
    connection = await open_stream(url, token, peer=peer, open_timeout=open_timeout)
    return RemoteSubscription(connection, peer=peer)


class FrameStream:
    """An open observation stream's frames, each a JSON object."""

    def __init__(self, connection: ClientConnection, *, peer: str = "runtime") -> None:
        self._connection = connection
        self._peer = peer
        self.close_code: int | None = None
        """How the server closed the stream, once it has."""

    async def next_frame(self) -> dict[str, Any]:
        """The next frame; a diagnostic is raised as its error (and the stream closed), a
        normal close is :class:`StopAsyncIteration`, any other end ``runtime_unavailable``."""
        try:
            text = await self._connection.recv(decode=True)
        except ConnectionClosed as closed:
            raise self._ended(closed) from None
        try:
            frame = json.loads(text)
            if not isinstance(frame, dict):
                raise ValueError("not an object")
        except ValueError as error:
            raise self.unreadable() from error
        if frame.get("kind") == "diagnostic":
            raise await self._diagnostic(frame)
        return frame

    def unreadable(self) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"the {self._peer} sent a frame this client cannot read")

    async def _diagnostic(self, frame: dict[str, object]) -> YoiError:
        error = frame_error(frame)
        await self._connection.close()
        self.close_code = self._connection.close_code
        return error

    def _ended(self, closed: ConnectionClosed) -> Exception:
        received = closed.rcvd
        self.close_code = None if received is None else received.code
        if self.close_code in _NORMAL_ENDS:
            return StopAsyncIteration()
        if closed.sent is not None and closed.sent.code == _TOO_BIG:
            return RuntimeUnavailable(
                f"the {self._peer} sent a frame over this client's limit of "
                f"{MAX_FRAME_BYTES} bytes",
                details={"close_code": _TOO_BIG},
            )
        return RuntimeUnavailable(
            "the observation stream was cut; resume with the last cursor",
            details={"close_code": self.close_code},
        )

    async def aclose(self) -> None:
        await close_stream(self._connection)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class RemoteSubscription(FrameStream):
    def __init__(self, connection: ClientConnection, *, peer: str = "runtime") -> None:
        super().__init__(connection, peer=peer)
        self.cursor: str | None = None
        """The cursor of the last event yielded, as its frame carried it; resume from it."""

    def __aiter__(self) -> RemoteSubscription:
        return self

    async def __anext__(self) -> Event:
        frame = await self.next_frame()
        try:
            event = read_event(frame)
            cursor = frame.get("cursor")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise self.unreadable() from error
        self.cursor = cursor if isinstance(cursor, str) else event.cursor
        return event
