"""Driving a runtime's app in-process, and reading its error envelope strictly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from yoi.runtime import Runtime
from yoi.server import MAX_BODY_BYTES, create_app
from yoi.server.envelope import STATUS


@asynccontextmanager
async def app_client(
    runtime: Runtime, *, token: str | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``runtime``'s app (which must be open), through ASGITransport."""
    app = create_app(runtime, token=token, max_body_bytes=max_body_bytes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of an envelope, checking its status and that it is exactly the envelope."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str)
    assert isinstance(body["error"]["details"], dict)
    error: dict[str, Any] = body["error"]
    return error


def assert_envelope(status: int, body: object, *, context: str = "") -> None:
    """A failure is exactly ``{"error": {code, message, details}}``, its status the code's.

    The only 5xx a well-formed server gives is 501 ``unsupported_operation``,
    its answer to a capability it does not offer (ARCHITECTURE §4.2).
    """
    if status < 300:
        return
    assert isinstance(body, dict), context
    assert list(body) == ["error"], context
    error = body["error"]
    assert isinstance(error, dict), context
    assert sorted(error) == ["code", "details", "message"], context
    assert isinstance(error["code"], str), context
    assert isinstance(error["message"], str), context
    assert isinstance(error["details"], dict), context
    assert STATUS.get(error["code"]) == status, context
    assert status < 500 or error["code"] == "unsupported_operation", context
