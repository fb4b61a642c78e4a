"""The worker event log's vocabulary (ARCHITECTURE §4.3).

Each body is a frozen dataclass with a ``type`` tag; :class:`Event` wraps a
body with its per-worker ``seq``, time and worker id.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import ClassVar

from yoi.runtime.cursor import encode_cursor

__all__ = [
    "ApprovalRequested",
    "ApprovalResolved",
    "ErrorEvent",
    "Event",
    "EventBody",
    "InputAccepted",
    "RunFinished",
    "RunStarted",
    "Snapshot",
    "StatusChanged",
    "TextDeltaEvent",
    "TextDoneEvent",
    "ThinkingDeltaEvent",
    "ThinkingDoneEvent",
    "ToolCallFinishedEvent",
    "ToolCallStartedEvent",
    "UsageEvent",
    "WorkerCreated",
    "WorkerStoppedEvent",
    "format_time",
]


def format_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Body:
    """Turns a body dataclass into its JSON object, ``type`` first."""

    __slots__ = ()
    type: ClassVar[str]

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"type": self.type}
        for item in fields(self):  # type: ignore[arg-type]
            body[item.name] = getattr(self, item.name)
        return body


@dataclass(frozen=True, slots=True)
class WorkerCreated(_Body):
    type: ClassVar[str] = "worker_created"
    display_name: str
    intent: dict[str, object]
    profile: str


@dataclass(frozen=True, slots=True)
class StatusChanged(_Body):
    type: ClassVar[str] = "status"
    status: str


@dataclass(frozen=True, slots=True)
class InputAccepted(_Body):
    type: ClassVar[str] = "input_accepted"
    run_id: str
    content: str
    queued: bool
    transcript_sequence: int | None


@dataclass(frozen=True, slots=True)
class RunStarted(_Body):
    type: ClassVar[str] = "run_started"
    run_id: str
    model: str


@dataclass(frozen=True, slots=True)
class TextDeltaEvent(_Body):
    type: ClassVar[str] = "text_delta"
    run_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TextDoneEvent(_Body):
    type: ClassVar[str] = "text_done"
    run_id: str
    text: str
    transcript_sequence: int | None = None
    """The transcript entry this text became; ``None`` only in logs older than the field."""
    cut: str | None = None
    """As the entry's ``cut``: the run ended (``cancelled``) before this text was done."""


@dataclass(frozen=True, slots=True)
class ThinkingDeltaEvent(_Body):
    type: ClassVar[str] = "thinking_delta"
    run_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDoneEvent(_Body):
    type: ClassVar[str] = "thinking_done"
    run_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStartedEvent(_Body):
    type: ClassVar[str] = "tool_call_started"
    run_id: str
    call_id: str
    name: str
    arguments: str
    transcript_sequence: int | None = None


@dataclass(frozen=True, slots=True)
class ToolCallFinishedEvent(_Body):
    type: ClassVar[str] = "tool_call_finished"
    run_id: str
    call_id: str
    name: str
    summary: str
    is_error: bool
    truncated: bool
    transcript_sequence: int | None = None


@dataclass(frozen=True, slots=True)
class ApprovalRequested(_Body):
    """A tool call an ``ask`` rule holds until a person answers, or ``expires_at`` passes."""

    type: ClassVar[str] = "approval_requested"
    run_id: str
    approval_id: str
    call_id: str
    tool: str
    arguments: str
    """The call's arguments as the model sent them, cut to a bounded length."""
    rule: str
    """The rule that asks, in its text form."""
    expires_at: str


@dataclass(frozen=True, slots=True)
class ApprovalResolved(_Body):
    """``decision`` is ``allow`` or ``deny``; ``by`` is ``person``, ``timeout`` or
    ``cancelled`` (the run ended while it waited)."""

    type: ClassVar[str] = "approval_resolved"
    run_id: str
    approval_id: str
    decision: str
    by: str


@dataclass(frozen=True, slots=True)
class UsageEvent(_Body):
    type: ClassVar[str] = "usage"
    run_id: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class RunFinished(_Body):
    type: ClassVar[str] = "run_finished"
    run_id: str
    result: str
    error: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class WorkerStoppedEvent(_Body):
    type: ClassVar[str] = "worker_stopped"
    reason: str | None


@dataclass(frozen=True, slots=True)
class ErrorEvent(_Body):
    """A problem worth showing that did not (yet) end the run, such as a retried request."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    run_id: str | None = None
    retry_in: float | None = None


@dataclass(frozen=True, slots=True)
class Snapshot(_Body):
    """The first item of every observation: where the worker stands now."""

    type: ClassVar[str] = "snapshot"
    worker: dict[str, object]
    transcript_tail: list[dict[str, object]]
    run: dict[str, object] | None


EventBody = (
    WorkerCreated
    | StatusChanged
    | InputAccepted
    | RunStarted
    | TextDeltaEvent
    | TextDoneEvent
    | ThinkingDeltaEvent
    | ThinkingDoneEvent
    | ToolCallStartedEvent
    | ToolCallFinishedEvent
    | ApprovalRequested
    | ApprovalResolved
    | UsageEvent
    | RunFinished
    | WorkerStoppedEvent
    | ErrorEvent
    | Snapshot
)


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    at: float
    worker_id: str
    event: EventBody

    @property
    def cursor(self) -> str:
        return encode_cursor(self.worker_id, self.seq)

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "at": format_time(self.at),
            "worker_id": self.worker_id,
            "event": self.event.to_dict(),
        }
