"""What the runtime answers with: read-only views, each with its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from yoi.runtime.approvals import Approval
from yoi.runtime.events import Event, format_time
from yoi.runtime.grants import grant_dict
from yoi.runtime.records import WorkerRecord
from yoi.runtime.requests import CapabilityRequest, Intent
from yoi.runtime.status import WorkerStatus
from yoi.tools.scope import Grant

__all__ = [
    "CancelAck",
    "Diagnostic",
    "EventPage",
    "InputAck",
    "RunState",
    "RuntimeSummary",
    "SandboxView",
    "StopAck",
    "WorkerDetail",
    "WorkerPage",
]


@dataclass(frozen=True, slots=True)
class RunState:
    """The run in flight: what it has said so far."""

    run_id: str
    started_at: float
    text: str
    thinking: str
    tools_in_flight: tuple[str, ...]
    approvals: tuple[Approval, ...] = ()
    """Its tool calls waiting for a person's answer."""

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "started_at": format_time(self.started_at),
            "text": self.text,
            "thinking": self.thinking,
            "tools_in_flight": list(self.tools_in_flight),
            "approvals": [approval.to_dict() for approval in self.approvals],
        }


@dataclass(frozen=True, slots=True)
class WorkerDetail:
    runtime_id: str
    worker_id: str
    display_name: str
    status: WorkerStatus
    intent: Intent
    profile: str
    model: str
    created_at: float
    capabilities: tuple[CapabilityRequest, ...]
    tools: tuple[str, ...]
    last_seq: int
    transcript_total: int
    runs: int
    queued_inputs: int
    usage: dict[str, int]
    run: RunState | None
    workdir: str | None = None
    grant: Grant | None = None

    @classmethod
    def of(
        cls,
        runtime_id: str,
        record: WorkerRecord,
        *,
        model: str,
        queued: int,
        run: RunState | None,
    ) -> WorkerDetail:
        return cls(
            runtime_id=runtime_id,
            worker_id=record.worker_id,
            display_name=record.display_name,
            status=record.status,
            intent=record.intent,
            profile=record.profile,
            model=model,
            created_at=record.created_at,
            capabilities=record.capabilities,
            tools=record.tools,
            last_seq=record.last_seq,
            transcript_total=record.transcript_total,
            runs=record.runs,
            queued_inputs=queued,
            usage=dict(record.usage),
            run=run,
            workdir=record.workdir,
            grant=record.grant,
        )

    @property
    def display_ref(self) -> str:
        return f"{self.display_name}@{self.runtime_id}"

    @property
    def approvals(self) -> tuple[Approval, ...]:
        """The tool calls waiting for a person's answer (its run's, shown on the worker too)."""
        return () if self.run is None else self.run.approvals

    def to_dict(self) -> dict[str, object]:
        return {
            "runtime_id": self.runtime_id,
            "worker_id": self.worker_id,
            "display_name": self.display_name,
            "display_ref": self.display_ref,
            "status": str(self.status),
            "intent": asdict(self.intent),
            "profile": self.profile,
            "model": self.model,
            "created_at": format_time(self.created_at),
            "capabilities": [asdict(item) for item in self.capabilities],
            "tools": list(self.tools),
            "last_seq": self.last_seq,
            "transcript_total": self.transcript_total,
            "runs": self.runs,
            "queued_inputs": self.queued_inputs,
            "usage": dict(self.usage),
            "run": None if self.run is None else self.run.to_dict(),
            "workdir": self.workdir,
            "grant": None if self.grant is None else grant_dict(self.grant),
            "approvals": [approval.to_dict() for approval in self.approvals],
        }


@dataclass(frozen=True, slots=True)
class WorkerPage:
    items: tuple[WorkerDetail, ...]
    next_after: str | None

    def to_dict(self) -> dict[str, object]:
        return {"items": [item.to_dict() for item in self.items], "next_after": self.next_after}


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[Event, ...]
    next_cursor: str

    def to_dict(self) -> dict[str, object]:
        return {
            "events": [event.to_dict() for event in self.events],
            "next_cursor": self.next_cursor,
        }


@dataclass(frozen=True, slots=True)
class InputAck:
    worker_id: str
    run_id: str
    transcript_sequence: int | None
    event_seq: int
    queued: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StopAck:
    worker_id: str
    stopped: bool
    """False when the worker was already stopped."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CancelAck:
    worker_id: str
    cancelled: bool
    """False when nothing was running."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    worker_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RuntimeSummary:
    runtime_id: str
    display_name: str
    status: str
    store: str
    model: str
    worker_count: int
    busy_count: int
    capabilities: tuple[str, ...]
    limits: dict[str, object]
    version: str
    tools: tuple[str, ...] = ()
    """The tools this runtime offers its workers (by grant, profile or request)."""
    sandbox: SandboxView | None = None
    """How ``bash`` runs here; ``None`` when this runtime runs no commands at all."""
    requestable_tools: tuple[str, ...] = ()
    """The tools a create request may ask for by name (``requested_capabilities``)."""

    def to_dict(self) -> dict[str, object]:
        body = asdict(self)
        body["capabilities"] = list(self.capabilities)
        body["tools"] = list(self.tools)
        body["requestable_tools"] = list(self.requestable_tools)
        return body


@dataclass(frozen=True, slots=True)
class SandboxView:
    """``mode`` is ``bwrap`` or ``none``; ``diagnostic`` says why commands cannot run, or
    warns that they run unconfined."""

    mode: str
    available: bool
    diagnostic: str = ""
