"""Serving the web console: its page at ``/``, its files under ``/assets/``, strict headers.

The console is static: plain ES modules and CSS (:mod:`yoi.web`), no build
step. Every answer of the backend, page or API, carries headers that keep a
browser strict about it:

- a Content-Security-Policy that lets the page run only its own scripts and
  styles, fetch and open sockets only to its own origin, load no image from
  elsewhere, and never be framed; so even a mistake in rendering a ticket
  could not run a script;
- ``nosniff``, no referrer, and revalidation on every load (``no-cache``), so
  an upgraded yoi serves its new console at once.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from yoi.server.guard import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "ConsoleHeaders", "mount_console"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def mount_console(app: FastAPI, assets: Path) -> None:
    """Serve ``assets/index.html`` at ``/`` and the folder at ``/assets/``."""
    page = assets / "index.html"

    @app.get("/", include_in_schema=False)
    async def console() -> FileResponse:
        return FileResponse(page, media_type="text/html; charset=utf-8")

    app.mount("/assets", StaticFiles(directory=assets, follow_symlink=False), name="assets")


class ConsoleHeaders:
    """Adds the strict headers to every HTTP answer, and ``no-cache`` where none was set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [pair for pair in _HEADERS if pair[0] not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
