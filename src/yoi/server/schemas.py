"""The wire models of the runtime API: what arrives is validated here, what leaves is described.

Requests are parsed into these models and turned into the runtime's own
request values; responses are the runtime views' ``to_dict`` forms, which
these models describe in ``/openapi.json`` (a schema-driven test checks that
the two agree).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yoi.runtime import (
    AssistantIntent,
    CapabilityRequest,
    ConfigBundleRef,
    CreateWorkerRequest,
    GrantRequest,
    Input,
    Intent,
    NewWorkdir,
    OnBusy,
    RoleIntent,
    TaskIntent,
)

__all__ = [
    "AckBody",
    "BundleBody",
    "BundleListBody",
    "BundleOneBody",
    "BundlePutBody",
    "CreateBody",
    "ErrorBody",
    "EventPageBody",
    "InputBody",
    "RuntimeBody",
    "StopBody",
    "TranscriptBody",
    "WorkdirBody",
    "WorkdirCreateBody",
    "WorkdirDeletedBody",
    "WorkdirListBody",
    "WorkerBody",
    "WorkerListBody",
    "intent_of",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ---------------------------------------------------------------


class AssistantIntentBody(_Strict):
    kind: Literal["assistant"] = "assistant"
    purpose: str | None = None


class TaskIntentBody(_Strict):
    kind: Literal["task"]
    objective: str


class RoleIntentBody(_Strict):
    kind: Literal["role"]
    role: str
    purpose: str | None = None


IntentBody = Annotated[
    AssistantIntentBody | TaskIntentBody | RoleIntentBody, Field(discriminator="kind")
]


class CapabilityBody(_Strict):
    name: str
    reason: str | None = None


class BundleRefBody(_Strict):
    digest: str


class GrantBody(_Strict):
    """Narrows the profile's grant: fewer capability bits, or sub-paths of the workdir."""

    capabilities: list[str] | None = None
    paths: list[str] = Field(default_factory=list)

    def to_request(self) -> GrantRequest:
        bits = None if self.capabilities is None else tuple(self.capabilities)
        return GrantRequest(bits, tuple(self.paths))


class NewWorkdirBody(_Strict):
    """A workdir to make for the worker: of ``repository`` (default: the runtime's first
    allowed one) at ``base``, detached or on a new ``branch``, named ``workdir_id`` or not."""

    base: str = "HEAD"
    repository: str | None = None
    branch: str | None = None
    workdir_id: str | None = None


def workdir_of(body: str | NewWorkdirBody | None) -> str | NewWorkdir | None:
    if isinstance(body, NewWorkdirBody):
        return NewWorkdir(body.base, body.repository, body.branch, body.workdir_id)
    return body


class CreateBody(_Strict):
    """``{}`` is valid: an assistant on the runtime's default profile."""

    worker_id: str | None = None
    display_name: str | None = None
    intent: IntentBody | None = None
    profile: str = "runtime_default"
    config_bundle: BundleRefBody | None = None
    requested_capabilities: list[CapabilityBody] = Field(default_factory=list)
    initial_input: str | None = None
    workdir: Annotated[
        str | NewWorkdirBody | None,
        Field(description="an existing workdir's id, or a new workdir to make"),
    ] = None
    grant: GrantBody | None = None

    def to_request(self) -> CreateWorkerRequest:
        return CreateWorkerRequest(
            worker_id=self.worker_id,
            display_name=self.display_name,
            intent=intent_of(self.intent),
            profile=self.profile,
            workdir=workdir_of(self.workdir),
            grant=None if self.grant is None else self.grant.to_request(),
            config_bundle=None
            if self.config_bundle is None
            else ConfigBundleRef(self.config_bundle.digest),
            requested_capabilities=tuple(
                CapabilityRequest(item.name, item.reason) for item in self.requested_capabilities
            ),
            initial_input=self.initial_input,
        )


def intent_of(body: IntentBody | None) -> Intent:
    """The runtime's intent for a request's ``intent`` object (an assistant when absent)."""
    match body:
        case None:
            return AssistantIntent()
        case TaskIntentBody(objective=objective):
            return TaskIntent(objective)
        case RoleIntentBody(role=role, purpose=purpose):
            return RoleIntent(role, purpose)
        case AssistantIntentBody(purpose=purpose):
            return AssistantIntent(purpose=purpose)


class InputBody(_Strict):
    kind: Literal["user"] = "user"
    content: str
    on_busy: Literal["reject", "enqueue", "interrupt"] = "reject"

    def to_input(self) -> Input:
        return Input(self.content, OnBusy(self.on_busy))


class StopBody(_Strict):
    reason: str | None = None


class BundleProfileBody(_Strict):
    prompt: str
    tools: list[str] = Field(default_factory=list)
    model: str | None = None
    max_turns: int = 24
    max_output_tokens: int | None = None
    description: str | None = None
    grant: list[str] = Field(default_factory=list)
    workspace: Literal["none", "read", "write"] = "none"
    report: Literal["submit_report", "submit_review", "submit_intent"] | None = None
    permissions: list[str] = Field(
        default_factory=list,
        description='permission rules in order, such as bash: "git push*" -> deny',
    )


class BundlePutBody(_Strict):
    """A config bundle as sent; the runtime checks it and its digest (ARCHITECTURE §4.5)."""

    format: Literal["yoi.config-bundle/1"] = "yoi.config-bundle/1"
    revision: str
    provenance: dict[str, str] = Field(default_factory=dict)
    profiles: dict[str, BundleProfileBody]


class WorkdirCreateBody(_Strict):
    """A workdir of ``repository`` (an absolute path the runtime allows) at ``base`` (a
    branch, tag or commit), detached, or on a new ``branch``."""

    repository: str
    base: str
    branch: str | None = None


# -- responses --------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """Every error, whatever its status: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


class ApprovalViewBody(BaseModel):
    """A tool call an ``ask`` rule holds until a person answers or ``expires_at`` passes."""

    approval_id: str
    run_id: str
    call_id: str
    tool: str
    arguments: str
    rule: str
    expires_at: str


class RunStateBody(BaseModel):
    run_id: str
    started_at: str
    text: str
    thinking: str
    tools_in_flight: list[str]
    approvals: list[ApprovalViewBody] = Field(default_factory=list)


class GrantViewBody(BaseModel):
    capabilities: list[str]
    paths: list[str]


class WorkerDetailBody(BaseModel):
    runtime_id: str
    worker_id: str
    display_name: str
    display_ref: str
    status: Literal["idle", "running", "stopped"]
    intent: dict[str, Any]
    profile: str
    model: str
    created_at: str
    capabilities: list[dict[str, Any]]
    tools: list[str]
    last_seq: int
    transcript_total: int
    runs: int
    queued_inputs: int
    usage: dict[str, int]
    run: RunStateBody | None
    workdir: str | None = None
    grant: GrantViewBody | None = None
    approvals: list[ApprovalViewBody] = Field(
        default_factory=list, description="its run's tool calls waiting for a person's answer"
    )


class WorkerBody(BaseModel):
    worker: WorkerDetailBody


class WorkerListBody(BaseModel):
    workers: list[WorkerDetailBody]
    next_after: str | None


class DiagnosticBody(BaseModel):
    code: str
    message: str
    worker_id: str | None


class SandboxBody(BaseModel):
    mode: Literal["bwrap", "none"]
    available: bool
    diagnostic: str


class RuntimeSummaryBody(BaseModel):
    runtime_id: str
    display_name: str
    status: str
    store: str
    model: str
    worker_count: int
    busy_count: int
    capabilities: list[str]
    limits: dict[str, Any]
    version: str
    tools: list[str] = Field(
        default_factory=list, description="the tools this runtime offers its workers"
    )
    sandbox: SandboxBody | None = Field(
        default=None, description="how bash runs here; null when this runtime runs no commands"
    )
    requestable_tools: list[str] = Field(
        default_factory=list,
        description="the tools a create request may ask for by name (requested_capabilities)",
    )


class RuntimeBody(BaseModel):
    runtime: RuntimeSummaryBody
    diagnostics: list[DiagnosticBody]


class AckDetail(BaseModel):
    worker_id: str
    run_id: str | None = None
    transcript_sequence: int | None = None
    event_seq: int | None = None
    queued: bool | None = None
    stopped: bool | None = None
    cancelled: bool | None = None


class AckBody(BaseModel):
    ack: AckDetail


class TranscriptEntryBody(BaseModel):
    sequence: int
    role: Literal["user", "assistant", "tool", "system"]
    content: str
    at: str
    run_id: str | None
    tool: dict[str, Any] | None = None
    cut: str | None = Field(
        default=None,
        description="on a reply its run ended before it was done: how (cancelled); absent else",
    )
    html: str | None = Field(
        default=None,
        description="a reply's Markdown as HTML safe to show (backend, with render=html)",
    )


class TranscriptPageBody(BaseModel):
    items: list[TranscriptEntryBody]
    total: int
    start: int
    next_start: int | None


class TranscriptBody(BaseModel):
    transcript: TranscriptPageBody


class EventBody(BaseModel):
    seq: int
    at: str
    worker_id: str
    event: dict[str, Any]


class EventPageBody(BaseModel):
    events: list[EventBody]
    next_cursor: str


class BundleBody(BaseModel):
    digest: str
    revision: str
    provenance: dict[str, str]
    profiles: list[str]
    size: int


class BundleListBody(BaseModel):
    config_bundles: list[BundleBody]


class BundleOneBody(BaseModel):
    config_bundle: BundleBody
    content: dict[str, Any]


class HealthBody(BaseModel):
    status: Literal["ok"]


class WorkdirDetailBody(BaseModel):
    workdir_id: str
    repository: str
    base_ref: str
    base_commit: str
    branch: str | None
    created_at: str
    state: Literal["present", "missing"] = Field(
        description="missing: the worktree was deleted by hand; DELETE cleans the record"
    )
    head: str | None
    disk_bytes: int
    disk_complete: bool = Field(description="false when the walk stopped at its bound")
    unmerged: int | None = Field(
        description="commits at head that no branch, tag or remote holds (null: unknown)"
    )


class WorkdirBody(BaseModel):
    workdir: WorkdirDetailBody


class WorkdirListBody(BaseModel):
    workdirs: list[WorkdirDetailBody]


class WorkdirDeletedDetail(BaseModel):
    workdir_id: str
    worktree_removed: bool
    branch_deleted: bool


class WorkdirDeletedBody(BaseModel):
    deleted: WorkdirDeletedDetail
