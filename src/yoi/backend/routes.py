"""The backend's REST API (ARCHITECTURE §5): each handler parses, calls the backend, wraps.

Everything a handler returns is a projection the registry made; no worker
or runtime semantics live here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from yoi.backend.admission import COOKIE, BackendAdmission
from yoi.backend.markdown import render_replies
from yoi.backend.schemas import (
    CompanionBody,
    CompanionMessageBody,
    LoginBody,
    RuntimeListBody,
    RuntimeOneBody,
    WorkerCreateBody,
    WorkerListingBody,
    WorkerUsageBody,
    WorkspaceBody,
)
from yoi.backend.service import Backend
from yoi.backend.usage_view import usage_of
from yoi.errors import Unauthorized
from yoi.runtime import Input, OnBusy, WorkerStatus
from yoi.server.approval_routes import ApprovalAckBody, DecisionBody
from yoi.server.schemas import (
    AckBody,
    ErrorBody,
    HealthBody,
    InputBody,
    StopBody,
    TranscriptBody,
    WorkerBody,
)

__all__ = ["router"]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "invalid request",
        401: "unauthorized",
        403: "forbidden origin",
        404: "not found",
        409: "conflict",
        413: "payload too large",
        415: "not JSON",
        500: "internal",
        501: "unsupported operation",
        502: "the runtime refused the backend's credential",
        503: "unavailable",
        504: "the runtime did not answer in time",
    }
    wanted = (400, 401, 403, 500, *statuses)
    found: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": described[status]} for status in wanted
    }
    found["4XX"] = {"model": ErrorBody, "description": "any other client error"}
    return found


_ROUTED = (404, 502, 503, 504)
"""What any call that reaches a runtime may answer besides its own errors."""


async def backend_of(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    return backend


Served = Annotated[Backend, Depends(backend_of)]
Limit = Annotated[int | None, Query(ge=1)]

router = APIRouter(prefix="/api")


@router.get("/health", response_model=HealthBody, responses=_errors())
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.post("/login", status_code=204, responses=_errors(415))
async def login(request: Request, body: LoginBody) -> Response:
    """Trade the backend's token for a cookie the web console sends from then on."""
    admission: BackendAdmission = request.app.state.admission
    if not admission.accepts(body.token):
        raise Unauthorized("that is not this backend's token")
    response = Response(status_code=204)
    response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", path="/")
    return response


@router.get("/workspace", response_model=WorkspaceBody, responses=_errors())
async def workspace(backend: Served) -> JSONResponse:
    return JSONResponse({"workspace": backend.workspace()})


@router.get("/runtimes", response_model=RuntimeListBody, responses=_errors())
async def list_runtimes(backend: Served) -> JSONResponse:
    return JSONResponse({"runtimes": await backend.registry.list_runtimes()})


@router.get("/runtimes/{runtime_id}", response_model=RuntimeOneBody, responses=_errors(404))
async def get_runtime(backend: Served, runtime_id: str) -> JSONResponse:
    return JSONResponse({"runtime": await backend.registry.get_runtime(runtime_id)})


@router.get("/workers", response_model=WorkerListingBody, responses=_errors(404))
async def list_workers(
    backend: Served,
    runtime_id: str | None = None,
    status: WorkerStatus | None = None,
    limit: Limit = None,
    after: str | None = None,
) -> JSONResponse:
    listing = await backend.registry.list_workers(
        runtime_id=runtime_id, status=status, limit=limit, after=after
    )
    return JSONResponse(listing)


@router.post(
    "/runtimes/{runtime_id}/workers",
    status_code=201,
    response_model=WorkerBody,
    responses=_errors(409, 415, 501, *_ROUTED),
)
async def create_worker(
    backend: Served, runtime_id: str, body: Annotated[WorkerCreateBody | None, Body()] = None
) -> JSONResponse:
    request = (body or WorkerCreateBody()).to_request()
    worker = await backend.create_worker(runtime_id, request)
    return JSONResponse({"worker": worker}, status_code=201)


@router.get(
    "/runtimes/{runtime_id}/workers/{worker_id}",
    response_model=WorkerBody,
    responses=_errors(*_ROUTED),
)
async def get_worker(backend: Served, runtime_id: str, worker_id: str) -> JSONResponse:
    return JSONResponse({"worker": await backend.registry.get_worker(runtime_id, worker_id)})


@router.get(
    "/runtimes/{runtime_id}/workers/{worker_id}/usage",
    response_model=WorkerUsageBody,
    responses=_errors(*_ROUTED),
)
async def get_worker_usage(backend: Served, runtime_id: str, worker_id: str) -> JSONResponse:
    """The worker's tokens and their cost, priced by the backend (null where unknown)."""
    worker = await backend.registry.get_worker(runtime_id, worker_id)
    return JSONResponse({"usage": usage_of(worker)})


@router.post(
    "/runtimes/{runtime_id}/workers/{worker_id}/input",
    status_code=202,
    response_model=AckBody,
    responses=_errors(409, 415, *_ROUTED),
)
async def send_input(
    backend: Served, runtime_id: str, worker_id: str, body: InputBody
) -> JSONResponse:
    ack = await backend.registry.send_input(runtime_id, worker_id, body.to_input())
    return JSONResponse({"ack": ack}, status_code=202)


@router.post(
    "/runtimes/{runtime_id}/workers/{worker_id}/stop",
    response_model=AckBody,
    responses=_errors(415, *_ROUTED),
)
async def stop_worker(
    backend: Served,
    runtime_id: str,
    worker_id: str,
    body: Annotated[StopBody | None, Body()] = None,
) -> JSONResponse:
    reason = (body or StopBody()).reason
    ack = await backend.registry.stop_worker(runtime_id, worker_id, reason)
    return JSONResponse({"ack": ack})


@router.post(
    "/runtimes/{runtime_id}/workers/{worker_id}/cancel",
    response_model=AckBody,
    responses=_errors(415, *_ROUTED),
)
async def cancel_worker(backend: Served, runtime_id: str, worker_id: str) -> JSONResponse:
    return JSONResponse({"ack": await backend.registry.cancel_worker(runtime_id, worker_id)})


@router.post(
    "/runtimes/{runtime_id}/workers/{worker_id}/approvals/{approval_id}",
    response_model=ApprovalAckBody,
    responses=_errors(415, *_ROUTED),
)
async def answer_approval(
    backend: Served, runtime_id: str, worker_id: str, approval_id: str, body: DecisionBody
) -> JSONResponse:
    """A person's answer to a tool call an ``ask`` rule holds: ``allow`` or ``deny``."""
    registry = backend.registry
    ack = await registry.answer_approval(runtime_id, worker_id, approval_id, body.decision)
    return JSONResponse({"ack": ack})


@router.get(
    "/runtimes/{runtime_id}/workers/{worker_id}/transcript",
    response_model=TranscriptBody,
    responses=_errors(*_ROUTED),
)
async def transcript(
    backend: Served,
    runtime_id: str,
    worker_id: str,
    start: Annotated[int, Query(ge=1)] = 1,
    limit: Limit = None,
    render: Literal["html"] | None = None,
) -> JSONResponse:
    """Entries from ``start``; ``render=html`` adds each reply's Markdown as safe HTML."""
    page = await backend.registry.transcript(runtime_id, worker_id, start, limit)
    if render == "html":
        page = await anyio.to_thread.run_sync(render_replies, page)
    return JSONResponse({"transcript": page})


@router.get("/companion", response_model=CompanionBody, responses=_errors(503))
async def companion(backend: Served) -> JSONResponse:
    return JSONResponse({"companion": await backend.companion.describe()})


@router.post(
    "/companion/messages",
    status_code=202,
    response_model=AckBody,
    responses=_errors(409, 415, 503),
)
async def companion_message(backend: Served, body: CompanionMessageBody) -> JSONResponse:
    ack = await backend.companion.send(Input(body.content, OnBusy(body.on_busy)))
    return JSONResponse({"ack": ack}, status_code=202)
