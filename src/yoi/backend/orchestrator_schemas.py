"""The wire models of the orchestrator API: what a browser sends, and what it gets back.

The response models only describe the JSON :mod:`yoi.orchestrator.views` builds (the CLI's
``--json`` prints the same), so ``/openapi.json`` documents it and the fuzzer checks every
answer against it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from yoi.orchestrator.run_record import Phase
from yoi.tickets import State

__all__ = [
    "ExplanationBody",
    "GateCommandBody",
    "OrchestratorStatusBody",
    "RunBody",
    "RunCommandBody",
]


def _by() -> Any:
    return Field(default=None, description="who asks; the backend's ticket author if absent")


class RunCommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str | None = _by()


class GateCommandBody(BaseModel):
    """A person's decision at the gate a run waits at."""

    model_config = ConfigDict(extra="forbid")

    gate: Literal["plan", "merge"] = Field(description="the gate the run waits at")
    decision: Literal["approve", "reject"] = Field(
        description="approve: the run goes on; reject: it stops and the ticket returns to planning"
    )
    note: str | None = Field(default=None, max_length=4000, description="said on the ticket")
    by: str | None = _by()


class GateView(BaseModel):
    gate: Literal["plan", "merge"]
    opened_at: float | None = Field(description="seconds since the epoch")
    dossier: str | None = Field(description="what the person decides on, as Markdown")
    dossier_html: str | None = Field(default=None, description="the dossier as safe HTML")


class ProblemView(BaseModel):
    code: str
    message: str


class WorkerRefView(BaseModel):
    runtime_id: str
    worker_id: str


class RunBody(BaseModel):
    """A ticket's run: its phase, round and workers (their live consoles)."""

    ticket_id: str
    title: str
    attempt: int
    phase: Phase
    over: bool = Field(description="whether nothing more happens in this run")
    review_round: int
    fix_rounds: int
    branch: str | None
    head_commit: str | None
    approved_commit: str | None
    coder: WorkerRefView | None
    reviewer: WorkerRefView | None
    stop_reason: str | None
    started_at: float = Field(description="seconds since the epoch")
    updated_at: float
    reason: str | None = Field(
        default=None, description="why the run is not running, from the fixed vocabulary"
    )
    gate: GateView | None = Field(default=None, description="the gate the run waits at")
    usage: dict[str, Any] | None = Field(default=None, description="tokens and cost")


class WaitingView(BaseModel):
    ticket_id: str
    title: str
    routing: str
    sentence: str = Field(description="why the queued ticket has not started, in one sentence")


class OrchestratorStatusBody(BaseModel):
    enabled: bool
    ready: bool = Field(description="whether queued tickets can start now")
    target_branch: str
    max_parallel: int
    problems: list[ProblemView]
    runs: list[RunBody]
    waiting: list[WaitingView]


class ReasonView(BaseModel):
    code: str
    ticket_id: str | None
    detail: str
    state: State | None


class DecisionView(BaseModel):
    routing: str
    reason: str
    evidence: list[str]
    next_action: str
    escalate_if: str


class ExplanationBody(BaseModel):
    ticket_id: str
    state: State
    sentence: str
    reasons: list[ReasonView]
    decision: DecisionView | None = Field(
        description="the policy's decision when the ticket is queued and waits for one"
    )
