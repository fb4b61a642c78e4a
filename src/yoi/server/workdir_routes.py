"""The workdir routes (ARCHITECTURE §4.6): each handler parses, calls one method, wraps.

A runtime without :class:`~yoi.runtime.workdirs.Workdirs` answers every one of them
``501 unsupported_operation``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from yoi.errors import UnsupportedOperation
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.server.routes import error_responses
from yoi.server.schemas import WorkdirBody, WorkdirCreateBody, WorkdirDeletedBody, WorkdirListBody

__all__ = ["router"]


async def workdirs_of(request: Request) -> Workdirs:
    runtime: Runtime = request.app.state.runtime
    if runtime.workdirs is None:
        raise UnsupportedOperation("this runtime makes no workdirs: it has no repositories")
    return runtime.workdirs


Host = Annotated[Workdirs, Depends(workdirs_of)]

router = APIRouter(prefix="/v1")


@router.post(
    "/workdirs", status_code=201, response_model=WorkdirBody, responses=error_responses(501)
)
async def create_workdir(workdirs: Host, body: WorkdirCreateBody) -> JSONResponse:
    made = await workdirs.create(body.repository, body.base, branch=body.branch)
    return JSONResponse({"workdir": made.to_dict()}, status_code=201)


@router.get("/workdirs", response_model=WorkdirListBody, responses=error_responses(501))
async def list_workdirs(workdirs: Host) -> JSONResponse:
    found = await workdirs.list()
    return JSONResponse({"workdirs": [item.to_dict() for item in found]})


@router.get(
    "/workdirs/{workdir_id}", response_model=WorkdirBody, responses=error_responses(404, 501)
)
async def get_workdir(workdirs: Host, workdir_id: str) -> JSONResponse:
    found = await workdirs.get(workdir_id)
    return JSONResponse({"workdir": found.to_dict()})


@router.delete(
    "/workdirs/{workdir_id}",
    response_model=WorkdirDeletedBody,
    responses=error_responses(404, 409, 501),
)
async def delete_workdir(workdirs: Host, workdir_id: str, force: bool = False) -> JSONResponse:
    deleted = await workdirs.delete(workdir_id, force=force)
    return JSONResponse({"deleted": deleted.to_dict()})
