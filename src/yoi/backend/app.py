"""The backend's ASGI app: the ``/api`` routes, the observation stream, one error envelope."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

import yoi
from yoi.backend import (
    orchestrator_routes,
    orchestrator_stream,
    routes,
    stream,
    ticket_stream,
    tickets,
)
from yoi.backend.admission import BackendAdmission
from yoi.backend.console import ConsoleHeaders, mount_console
from yoi.backend.service import Backend
from yoi.server.envelope import install_error_handlers
from yoi.server.guard import Guard, HostCheck

__all__ = ["MAX_BODY_BYTES", "create_backend_app"]

MAX_BODY_BYTES = 1024 * 1024
"""Room for the largest input a runtime takes (256 KiB), JSON escaping included."""


def create_backend_app(
    backend: Backend,
    *,
    token: str | None = None,
    queue_size: int = stream.QUEUE_SIZE,
    console: Path | None = None,
    bind_host: str | None = None,
) -> FastAPI:
    """The API of ``backend``, which the caller opens before serving and closes after.

    Without a ``token`` the app answers only requests addressed to a
    loopback name or ``bind_host``; with one, every ``/api`` route but health and login needs it.
    ``console`` is the web console's folder (:data:`yoi.web.ASSETS`), served at ``/``.
    """
    app = FastAPI(
        title="yoi backend",
        version=yoi.__version__,
        summary="One workspace's runtimes, workers, Companion and tickets, safe for a browser.",
        docs_url=None,
        redoc_url=None,
    )
    admission = BackendAdmission(token, hosts=HostCheck(bind_host))
    app.state.backend = backend
    app.state.admission = admission
    app.state.queue_size = queue_size
    app.include_router(routes.router)
    app.include_router(tickets.router)
    app.include_router(orchestrator_routes.router)
    app.include_router(stream.router)
    app.include_router(ticket_stream.router)
    app.include_router(orchestrator_stream.router)
    if console is not None:
        mount_console(app, console)
    install_error_handlers(app)
    app.add_middleware(Guard, admit=admission, max_body_bytes=MAX_BODY_BYTES)
    app.add_middleware(ConsoleHeaders)
    return app
