"""The REST command API (ARCHITECTURE §4.2): each handler parses, calls one runtime method, wraps.

No worker semantics live here. Responses are the runtime views' JSON forms,
wrapped in their envelope key; the response models only describe them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from yoi.runtime import ConfigBundle, Runtime, WorkerStatus
from yoi.server.schemas import (
    AckBody,
    BundleListBody,
    BundleOneBody,
    BundlePutBody,
    CreateBody,
    ErrorBody,
    EventPageBody,
    HealthBody,
    InputBody,
    RuntimeBody,
    StopBody,
    TranscriptBody,
    WorkerBody,
    WorkerListBody,
)

__all__ = ["error_responses", "router"]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {400: "invalid request", 401: "unauthorized", 403: "forbidden origin"}
    described |= {
        404: "not found",
        409: "conflict",
        410: "cursor expired",
        413: "payload too large",
        500: "internal",
        501: "unsupported operation",
        503: "unavailable",
    }
    wanted = (400, 401, 403, 413, 500, 503, *statuses)
    found: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": described[status]} for status in wanted
    }
    # Declaring 4XX also keeps FastAPI from advertising a 422 that validation never sends.
    found["4XX"] = {"model": ErrorBody, "description": "any other client error"}
    return found


async def runtime_of(request: Request) -> Runtime:  # async: a plain def would run in a thread
    runtime: Runtime = request.app.state.runtime
    return runtime


Host = Annotated[Runtime, Depends(runtime_of)]
Limit = Annotated[int | None, Query(ge=1)]

router = APIRouter(prefix="/v1")


@router.get("/health", response_model=HealthBody, responses=error_responses())
async def health() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/runtime", response_model=RuntimeBody, responses=error_responses())
async def runtime_summary(runtime: Host) -> JSONResponse:
    summary = await runtime.summary()
    found = await runtime.diagnostics()
    body = {"runtime": summary.to_dict(), "diagnostics": [d.to_dict() for d in found]}
    return JSONResponse(body)


@router.get("/workers", response_model=WorkerListBody, responses=error_responses())
async def list_workers(
    runtime: Host,
    limit: Limit = None,
    after: str | None = None,
    status: WorkerStatus | None = None,
) -> JSONResponse:
    page = await runtime.list_workers(status=status, limit=limit, after=after)
    body = {"workers": [item.to_dict() for item in page.items], "next_after": page.next_after}
    return JSONResponse(body)


@router.post(
    "/workers", status_code=201, response_model=WorkerBody, responses=error_responses(404, 409, 501)
)
async def create_worker(
    runtime: Host, body: Annotated[CreateBody | None, Body()] = None
) -> JSONResponse:
    detail = await runtime.create_worker((body or CreateBody()).to_request())
    return JSONResponse({"worker": detail.to_dict()}, status_code=201)


@router.get("/workers/{worker_id}", response_model=WorkerBody, responses=error_responses(404))
async def get_worker(runtime: Host, worker_id: str) -> JSONResponse:
    detail = await runtime.get_worker(worker_id)
    return JSONResponse({"worker": detail.to_dict()})


@router.post(
    "/workers/{worker_id}/input",
    status_code=202,
    response_model=AckBody,
    responses=error_responses(404, 409),
)
async def send_input(runtime: Host, worker_id: str, body: InputBody) -> JSONResponse:
    ack = await runtime.send_input(worker_id, body.to_input())
    return JSONResponse({"ack": ack.to_dict()}, status_code=202)


@router.post("/workers/{worker_id}/stop", response_model=AckBody, responses=error_responses(404))
async def stop_worker(
    runtime: Host, worker_id: str, body: Annotated[StopBody | None, Body()] = None
) -> JSONResponse:
    ack = await runtime.stop_worker(worker_id, (body or StopBody()).reason)
    return JSONResponse({"ack": ack.to_dict()})


@router.post("/workers/{worker_id}/cancel", response_model=AckBody, responses=error_responses(404))
async def cancel_worker(runtime: Host, worker_id: str) -> JSONResponse:
    ack = await runtime.cancel_worker(worker_id)
    return JSONResponse({"ack": ack.to_dict()})


@router.get(
    "/workers/{worker_id}/transcript", response_model=TranscriptBody, responses=error_responses(404)
)
async def transcript(
    runtime: Host, worker_id: str, start: Annotated[int, Query(ge=1)] = 1, limit: Limit = None
) -> JSONResponse:
    page = await runtime.transcript(worker_id, start, limit)
    return JSONResponse({"transcript": page.to_dict()})


@router.get(
    "/workers/{worker_id}/events", response_model=EventPageBody, responses=error_responses(404, 410)
)
async def events(
    runtime: Host, worker_id: str, cursor: str | None = None, limit: Limit = None
) -> JSONResponse:
    page = await runtime.events(worker_id, after=cursor, limit=limit)
    return JSONResponse(page.to_dict())


@router.put("/config-bundles/{digest}", response_model=BundleOneBody, responses=error_responses())
async def put_config_bundle(runtime: Host, digest: str, body: BundlePutBody) -> JSONResponse:
    bundle = ConfigBundle.from_mapping(body.model_dump())
    summary = await runtime.put_config_bundle(digest, bundle)
    return JSONResponse({"config_bundle": summary.to_dict(), "content": bundle.to_dict()})


@router.get("/config-bundles", response_model=BundleListBody, responses=error_responses())
async def list_config_bundles(runtime: Host) -> JSONResponse:
    found = await runtime.config_bundles()
    return JSONResponse({"config_bundles": [summary.to_dict() for summary in found]})


@router.get(
    "/config-bundles/{digest}", response_model=BundleOneBody, responses=error_responses(404)
)
async def get_config_bundle(runtime: Host, digest: str) -> JSONResponse:
    bundle = await runtime.config_bundle(digest)
    return JSONResponse({"config_bundle": bundle.summary().to_dict(), "content": bundle.to_dict()})
