"""The runtime's ASGI app: REST commands, the observation stream, one error envelope."""

from __future__ import annotations

from fastapi import FastAPI

import yoi
from yoi.runtime import Runtime
from yoi.runtime.bundles import MAX_BUNDLE_BYTES
from yoi.server import approval_routes, routes, stream, workdir_routes
from yoi.server.envelope import install_error_handlers
from yoi.server.guard import Guard, HostCheck, RuntimeAdmission

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 2 * MAX_BUNDLE_BYTES
"""Room for the largest config bundle, JSON escaping included."""


def create_app(
    runtime: Runtime,
    *,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    bind_host: str | None = None,
) -> FastAPI:
    """The API of ``runtime``, which the caller opens before serving and closes after.

    With a ``token``, every route but ``/v1/health`` needs ``Authorization:
    Bearer <token>``; without one, only requests addressed to a loopback name
    or ``bind_host`` are answered. A request with an ``Origin`` header (a
    browser) is always refused.
    """
    app = FastAPI(
        title="yoi runtime",
        version=yoi.__version__,
        summary="The command API and observation stream of one yoi runtime.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.frames = stream.FrameCache()
    app.include_router(routes.router)
    app.include_router(workdir_routes.router)
    app.include_router(approval_routes.router)
    app.include_router(stream.router)
    install_error_handlers(app)
    admission = RuntimeAdmission(token, hosts=HostCheck(bind_host))
    app.add_middleware(Guard, admit=admission, max_body_bytes=max_body_bytes)
    return app
