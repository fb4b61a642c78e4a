"""The approval route (ARCHITECTURE §4.6): a person's answer to a tool call an ``ask`` rule holds.

The handler parses, calls :meth:`~yoi.runtime.Runtime.answer_approval`, wraps.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from yoi.server.routes import Host, error_responses

__all__ = ["ApprovalAckBody", "DecisionBody", "router"]


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["allow", "deny"]


class ApprovalAckDetail(BaseModel):
    approval_id: str
    decision: Literal["allow", "deny"]


class ApprovalAckBody(BaseModel):
    ack: ApprovalAckDetail


router = APIRouter(prefix="/v1")


@router.post(
    "/workers/{worker_id}/approvals/{approval_id}",
    response_model=ApprovalAckBody,
    responses=error_responses(404),
)
async def answer_approval(
    runtime: Host, worker_id: str, approval_id: str, body: DecisionBody
) -> JSONResponse:
    ack = await runtime.answer_approval(worker_id, approval_id, body.decision)
    return JSONResponse({"ack": ack.to_dict()})
