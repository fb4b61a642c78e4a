"""The gate in front of every route: browsers out, bearer token in, bodies bounded, bugs caught.

A pure ASGI middleware, so the same checks hold for HTTP requests and
WebSocket upgrades. A refused upgrade gets a real HTTP response (status and
error envelope) when the server supports the WebSocket denial extension, as
uvicorn does; otherwise it is closed with the matching 44xx code.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from yoi.errors import ForbiddenOrigin, PayloadTooLarge, Unauthorized, YoiError
from yoi.runtime.frames import CLOSE_CODES
from yoi.server.envelope import error_response, internal_error_response, status_of

__all__ = ["Guard", "UNGUARDED_PATHS"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNGUARDED_PATHS = frozenset({"/v1/health"})
"""Liveness answers without a token; it says nothing but ``ok``."""


class Guard:
    def __init__(self, app: ASGIApp, *, token: str | None, max_body_bytes: int) -> None:
        self.app = app
        self._token = None if token is None else token.encode()
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _refuse(scope, receive, send, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send)

    def _refusal(self, scope: Scope) -> YoiError | None:
        headers = dict(_headers(scope))
        if b"origin" in headers:
            return ForbiddenOrigin("browsers may not reach a runtime; go through the backend's API")
        guarded = self._token is not None and scope["path"] not in UNGUARDED_PATHS
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        bearer = scheme.lower() == b"bearer"  # the scheme is case-insensitive (RFC 9110)
        if guarded and not (bearer and hmac.compare_digest(given.strip(), self._token or b"")):
            return Unauthorized("a valid bearer token is required")
        if scope["type"] == "http" and _declared_length(headers) > self._max_body:
            return PayloadTooLarge(f"the request body is over {self._max_body} bytes")
        return None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._max_body:
                # FastAPI turns anything but an HTTPException raised while reading a body into 400.
                raise HTTPException(413)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, watched_send)
        except Exception as error:
            if started:
                raise
            response = internal_error_response(scope.get("method", "?"), scope["path"], error)
            await response(scope, receive, send)


def _headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    return [(name.lower(), value) for name, value in scope.get("headers", [])]


def _declared_length(headers: dict[bytes, bytes]) -> int:
    try:
        return int(headers.get(b"content-length", b"0"))
    except ValueError:
        return 0


async def _refuse(scope: Scope, receive: Receive, send: Send, error: YoiError) -> None:
    if scope["type"] == "http":
        await error_response(error)(scope, receive, send)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps({"error": error.to_dict()}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status_of(error),
                "headers": headers,
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.close", "code": CLOSE_CODES.get(error.code, 4500)})
