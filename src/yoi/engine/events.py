"""What one engine run reports while it runs, in order."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from yoi.engine.messages import AssistantMessage, ToolCall
from yoi.engine.tool import ToolResult
from yoi.errors import YoiError

__all__ = [
    "AssistantReply",
    "EngineEvent",
    "RunEnded",
    "RunResult",
    "Retrying",
    "TextDelta",
    "TextDone",
    "ThinkingDelta",
    "ThinkingDone",
    "ToolCallFinished",
    "ToolCallStarted",
    "UsageReport",
]


class RunResult(enum.StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class TextDone:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDone:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolCallFinished:
    call: ToolCall
    result: ToolResult
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class UsageReport:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Retrying:
    attempt: int
    delay: float
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AssistantReply:
    """A complete assistant message of one model turn, as it joins the conversation."""

    message: AssistantMessage


@dataclass(frozen=True, slots=True)
class RunEnded:
    """The last event of every run that was not cancelled."""

    result: RunResult
    error: YoiError | None = None


EngineEvent = (
    TextDelta
    | TextDone
    | ThinkingDelta
    | ThinkingDone
    | ToolCallStarted
    | ToolCallFinished
    | UsageReport
    | Retrying
    | AssistantReply
    | RunEnded
)
