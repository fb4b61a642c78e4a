"""The wire models of the backend API: browser requests in, browser-safe bodies described.

Worker, ack, transcript and error bodies are the runtime API's own (the
backend passes them on, projected); what is new here is the runtime view,
the cross-runtime listing, the workspace and the Companion.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from yoi.runtime import CapabilityRequest, CreateWorkerRequest, NewWorkdir
from yoi.server.schemas import (
    CapabilityBody,
    GrantBody,
    IntentBody,
    WorkerDetailBody,
    intent_of,
)

__all__ = [
    "CompanionBody",
    "CompanionMessageBody",
    "LoginBody",
    "RuntimeListBody",
    "RuntimeOneBody",
    "WorkerCreateBody",
    "WorkerListingBody",
    "WorkspaceBody",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendWorkdirBody(_Strict):
    """A new workdir of the runtime's own repository: a browser never names a path."""

    base: str = "HEAD"
    branch: str | None = None


class WorkerCreateBody(_Strict):
    """A worker to create; ``profile`` names a workspace profile (the backend adds its bundle)."""

    worker_id: str | None = None
    display_name: str | None = None
    intent: IntentBody | None = None
    profile: Annotated[
        str | None,
        Field(
            description="a workspace profile, or builtin:<name> (default: the profile named "
            "after the worker's role, else default)"
        ),
    ] = None
    requested_capabilities: list[CapabilityBody] = Field(default_factory=list)
    initial_input: str | None = None
    workdir: Annotated[
        str | BackendWorkdirBody | None,
        Field(description="an existing workdir's id, or a new workdir of the runtime's repository"),
    ] = None
    grant: GrantBody | None = None

    def to_request(self) -> CreateWorkerRequest:
        workdir = self.workdir
        return CreateWorkerRequest(
            worker_id=self.worker_id,
            display_name=self.display_name,
            intent=intent_of(self.intent),
            profile=self.profile or "runtime_default",
            workdir=NewWorkdir(workdir.base, None, workdir.branch)
            if isinstance(workdir, BackendWorkdirBody)
            else workdir,
            grant=None if self.grant is None else self.grant.to_request(),
            requested_capabilities=tuple(
                CapabilityRequest(item.name, item.reason) for item in self.requested_capabilities
            ),
            initial_input=self.initial_input,
        )


class CompanionMessageBody(_Strict):
    content: str
    on_busy: Literal["reject", "enqueue", "interrupt"] = "reject"


class LoginBody(_Strict):
    token: str


# -- responses --------------------------------------------------------------


class DiagnosticView(BaseModel):
    code: str
    message: str
    worker_id: str | None = None


class RuntimeViewBody(BaseModel):
    runtime_id: str
    display_name: str
    kind: Literal["embedded", "remote", "local"]
    status: Literal["available", "unavailable"]
    capabilities: list[str]
    tools: list[str] = Field(description="the tools this runtime offers its workers")
    requestable_tools: list[str] = Field(
        description="what a create request may ask for by name as requested_capabilities"
    )
    worker_count: int | None
    busy_count: int | None
    model: str | None
    diagnostics: list[DiagnosticView]


class RuntimeListBody(BaseModel):
    runtimes: list[RuntimeViewBody]


class RuntimeOneBody(BaseModel):
    runtime: RuntimeViewBody


class ListingProblemBody(BaseModel):
    runtime_id: str
    code: str
    message: str


class WorkerListingBody(BaseModel):
    workers: list[WorkerDetailBody]
    diagnostics: list[ListingProblemBody]
    next_after: str | None


class CompanionView(BaseModel):
    runtime_id: str
    worker_id: str
    display_name: str
    status: Literal["idle", "running", "stopped"]
    model: str
    offline: bool


class UsageSummaryBody(BaseModel):
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float | None = Field(description="in USD; null where the model's price is unknown")


class WorkerUsageBody(BaseModel):
    usage: UsageSummaryBody


class CompanionBody(BaseModel):
    companion: CompanionView


class ProfileView(BaseModel):
    """A profile of the workspace's bundle: what a new worker may be created with."""

    name: str
    description: str | None
    tools: list[str]


class WorkspaceView(BaseModel):
    name: str
    id: str | None = Field(
        None, description="the workspace's stable id (never a path); None when it has none"
    )
    version: str
    model: str
    offline: bool
    companion: dict[str, str]
    profiles: list[ProfileView]


class WorkspaceBody(BaseModel):
    workspace: WorkspaceView
