"""The backend's ASGI app: the ``/api`` routes, the observation stream, one error envelope."""

from __future__ import annotations

from fastapi import FastAPI

import yoi
from yoi.backend import routes, stream, tickets
from yoi.backend.admission import BackendAdmission
from yoi.backend.service import Backend
from yoi.server.envelope import install_error_handlers
from yoi.server.guard import Guard

__all__ = ["MAX_BODY_BYTES", "create_backend_app"]

MAX_BODY_BYTES = 1024 * 1024
"""Room for the largest input a runtime takes (256 KiB), JSON escaping included."""


def create_backend_app(
    backend: Backend,
    *,
    token: str | None = None,
    queue_size: int = stream.QUEUE_SIZE,
) -> FastAPI:
    """The API of ``backend``, which the caller opens before serving and closes after.

    Without a ``token`` the app answers only requests addressed to a
    loopback name; with one, every ``/api`` route but health and login needs it.
    """
    app = FastAPI(
        title="yoi backend",
        version=yoi.__version__,
        summary="One workspace's runtimes, workers, Companion and tickets, safe for a browser.",
        docs_url=None,
        redoc_url=None,
    )
    admission = BackendAdmission(token)
    app.state.backend = backend
    app.state.admission = admission
    app.state.queue_size = queue_size
    app.include_router(routes.router)
    app.include_router(tickets.router)
    app.include_router(stream.router)
    install_error_handlers(app)
    app.add_middleware(Guard, admit=admission, max_body_bytes=MAX_BODY_BYTES)
    return app
