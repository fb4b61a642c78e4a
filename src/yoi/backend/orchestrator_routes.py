"""The orchestrator API (ARCHITECTURE §9): each handler parses, makes one call on the backend's
:class:`~yoi.backend.orchestration.Orchestration`, and returns its JSON.

``GET /api/orchestrator`` (runs, phases, why queued tickets wait, problems), ``GET
/api/tickets/{id}/explain``, ``POST /api/orchestrator/runs/{id}/stop``, ``/retry`` and
``/gate`` (the stream is :mod:`~yoi.backend.orchestrator_stream`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from yoi.backend.orchestrator_schemas import (
    ExplanationBody,
    GateCommandBody,
    OrchestratorStatusBody,
    RunBody,
    RunCommandBody,
)
from yoi.backend.routes import Served
from yoi.server.schemas import ErrorBody

__all__ = ["router"]

_DESCRIBED = {
    400: "invalid request or ticket id, or a ticket without a run",
    401: "unauthorized",
    403: "forbidden origin",
    404: "no such ticket",
    409: "the run cannot do that now (over, not stopped or failed, or not at that gate)",
    415: "not JSON",
    422: "the ticket's files cannot be read",
    500: "internal",
    501: "no orchestrator (off, or no ticket store) for this",
    503: "another writer holds the ticket store lock, or a runtime is unavailable",
    507: "the disk has no room for the change",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    found: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": _DESCRIBED[status]}
        for status in (400, 401, 403, 500, *statuses)
    }
    found["4XX"] = {"model": ErrorBody, "description": "any other client error"}
    return found


_COMMANDS = _errors(404, 409, 415, 422, 501, 503, 507)

router = APIRouter(prefix="/api", tags=["orchestrator"])


@router.get("/orchestrator", response_model=OrchestratorStatusBody, responses=_errors(503))
async def status(backend: Served) -> JSONResponse:
    """Every run with its phase, the queued tickets that wait and why, and problems."""
    return JSONResponse(await backend.orchestration.status())


@router.get(
    "/tickets/{ticket_id}/explain",
    response_model=ExplanationBody,
    responses=_errors(404, 422, 501, 503),
)
async def explain(backend: Served, ticket_id: str) -> JSONResponse:
    """Why the ticket has not started, in one sentence and as structured reasons."""
    return JSONResponse(await backend.orchestration.explain(ticket_id))


@router.post("/orchestrator/runs/{ticket_id}/stop", response_model=RunBody, responses=_COMMANDS)
async def stop(
    backend: Served, ticket_id: str, body: Annotated[RunCommandBody | None, Body()] = None
) -> JSONResponse:
    """Stop the ticket's run: its workers stop, its worktree is kept."""
    by = _by(backend.ticket_author, body)
    return JSONResponse(await backend.orchestration.stop(ticket_id, by=by))


@router.post("/orchestrator/runs/{ticket_id}/retry", response_model=RunBody, responses=_COMMANDS)
async def retry(
    backend: Served, ticket_id: str, body: Annotated[RunCommandBody | None, Body()] = None
) -> JSONResponse:
    """Start a stopped or failed run again, as its next attempt."""
    by = _by(backend.ticket_author, body)
    return JSONResponse(await backend.orchestration.retry(ticket_id, by=by))


@router.post("/orchestrator/runs/{ticket_id}/gate", response_model=RunBody, responses=_COMMANDS)
async def gate(backend: Served, ticket_id: str, body: GateCommandBody) -> JSONResponse:
    """Approve or reject the run waiting at its plan or merge gate."""
    by = backend.ticket_author if body.by is None else body.by
    return JSONResponse(
        await backend.orchestration.gate(ticket_id, body.gate, body.decision, by=by, note=body.note)
    )


def _by(default: str, body: RunCommandBody | None) -> str:
    return default if body is None or body.by is None else body.by
