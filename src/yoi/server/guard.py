"""The gate in front of every route: browsers out, bearer token in, bodies bounded, bugs caught.

A pure ASGI middleware, so the same checks hold for HTTP requests and
WebSocket upgrades. A refused upgrade gets a real HTTP response (status and
error envelope) when the server supports the WebSocket denial extension, as
uvicorn does; otherwise it is closed with the matching 44xx code.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

from yoi.errors import ForbiddenHost, ForbiddenOrigin, PayloadTooLarge, Unauthorized, YoiError
from yoi.runtime.frames import CLOSE_CODES
from yoi.server.envelope import error_response, internal_error_response, status_of

__all__ = [
    "UNGUARDED_PATHS",
    "Admission",
    "Guard",
    "HostCheck",
    "RuntimeAdmission",
    "bearer_token",
    "headers_of",
]

Scope = MutableMapping[str, Any]
Headers = Mapping[bytes, bytes]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNGUARDED_PATHS = frozenset({"/v1/health"})
"""Liveness answers without a token; it says nothing but ``ok``."""


Admission = Callable[[Scope, Headers], YoiError | None]
"""Decides whether a request or upgrade may pass: None, or the error that refuses it."""


class HostCheck:
    """The names a server without a token answers to: loopback names and its own bind address.

    A page that points its own domain at 127.0.0.1 (DNS rebinding) makes
    same-origin requests that carry no ``Origin``, but its ``Host`` names that
    domain; without a token to ask for, ``Host`` is what tells it apart.
    """

    LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

    def __init__(self, bind_host: str | None = None) -> None:
        extra = () if bind_host is None else (bind_host.strip("[]").lower(),)
        self._names = self.LOOPBACK.union(extra)

    def __call__(self, headers: Headers) -> ForbiddenHost | None:
        if _hostname(headers.get(b"host", b"").decode("latin-1")) in self._names:
            return None
        return ForbiddenHost("without a token this server answers only to a loopback name")


class RuntimeAdmission:
    """A runtime's rule: no browser at all, and the bearer token on everything but health.

    Without a token, only requests addressed to a loopback name or the bind
    address pass (:class:`HostCheck`).
    """

    def __init__(self, token: str | None, *, hosts: HostCheck | None = None) -> None:
        self._token = None if token is None else token.encode()
        self._hosts = hosts or HostCheck()

    def __call__(self, scope: Scope, headers: Headers) -> YoiError | None:
        if b"origin" in headers:
            return ForbiddenOrigin("browsers may not reach a runtime; go through the backend's API")
        if self._token is None:
            return self._hosts(headers)
        if scope["path"] in UNGUARDED_PATHS:
            return None
        given = bearer_token(headers)
        if given is None or not hmac.compare_digest(given, self._token):
            return Unauthorized("a valid bearer token is required")
        return None


class Guard:
    """Admission first, then a body bound, then a last line of defence against bugs."""

    def __init__(self, app: ASGIApp, *, admit: Admission, max_body_bytes: int) -> None:
        self.app = app
        self._admit = admit
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
        headers = headers_of(scope)
        refusal = self._admit(scope, headers)
        if refusal is not None:
            return refusal
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


def headers_of(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name (the last of repeated ones)."""
    return {name.lower(): value for name, value in scope.get("headers", [])}


def bearer_token(headers: Headers) -> bytes | None:
    """The token of an ``Authorization: Bearer`` header; the scheme is case-insensitive."""
    scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return given.strip()


def _hostname(host: str) -> str:
    try:
        return (urlsplit(f"//{host}").hostname or "").lower()
    except ValueError:
        return ""


def _declared_length(headers: Headers) -> int:
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
