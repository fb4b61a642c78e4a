"""Transcript entries: the conversation a person pages through, and the model's history."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from yoi.engine.messages import (
    AssistantMessage,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from yoi.runtime.events import format_time

__all__ = ["History", "Role", "ToolEntry", "TranscriptEntry", "TranscriptPage", "to_messages"]


class Role(enum.StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class ToolEntry:
    """The tool side of a ``tool`` entry: a call (``result`` False) or its result."""

    call_id: str
    name: str
    result: bool
    is_error: bool = False
    summary: str | None = None
    truncated: bool = False
    """A result cut to the engine's output bound (its content ends with the marker)."""


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    sequence: int
    role: Role
    content: str
    at: float
    run_id: str | None = None
    tool: ToolEntry | None = None
    cut: str | None = None
    """Set on a reply its run ended before it was done: how the run ended (``cancelled``).
    The content is then what the model had streamed so far."""

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "sequence": self.sequence,
            "role": str(self.role),
            "content": self.content,
            "at": format_time(self.at),
            "run_id": self.run_id,
        }
        if self.tool is not None:
            body["tool"] = {
                "call_id": self.tool.call_id,
                "name": self.tool.name,
                "result": self.tool.result,
                "is_error": self.tool.is_error,
                "summary": self.tool.summary,
                "truncated": self.tool.truncated,
            }
        if self.cut is not None:
            body["cut"] = self.cut
        return body


@dataclass(frozen=True, slots=True)
class TranscriptPage:
    items: tuple[TranscriptEntry, ...]
    total: int
    start: int
    next_start: int | None = field(default=None)

    def to_dict(self) -> dict[str, object]:
        return {
            "items": [item.to_dict() for item in self.items],
            "total": self.total,
            "start": self.start,
            "next_start": self.next_start,
        }


class History:
    """The model's view of a conversation, built entry by entry from the transcript.

    Tool calls join the assistant message just before them; a call with no such
    message gets an empty one. Calls left without a result (a cancelled run) are
    answered with an error result before the next user message, so the history
    stays acceptable to every provider. Past ``max_messages`` the oldest half is
    dropped, whole exchanges at a time, before a new user message.
    """

    def __init__(self, max_messages: int = 2_000) -> None:
        self.messages: list[Message] = []
        self._open_calls: dict[str, str] = {}
        self._max_messages = max_messages

    def add(self, entry: TranscriptEntry) -> None:
        tool = entry.tool
        if entry.role is Role.USER:
            self._close_open_calls()
            self._forget_oldest()
            self.messages.append(UserMessage(entry.content))
        elif entry.role is Role.ASSISTANT:
            self.messages.append(AssistantMessage(entry.content))
        elif tool is not None and tool.result:
            self._open_calls.pop(tool.call_id, None)
            self.messages.append(
                ToolResultMessage(tool.call_id, tool.name, entry.content, tool.is_error)
            )
        elif tool is not None:
            self._open_calls[tool.call_id] = tool.name
            self._attach(ToolCall(tool.call_id, tool.name, entry.content))

    def _attach(self, call: ToolCall) -> None:
        last = self.messages[-1] if self.messages else None
        if isinstance(last, AssistantMessage):
            self.messages[-1] = AssistantMessage(last.text, (*last.tool_calls, call), last.thinking)
        else:
            self.messages.append(AssistantMessage("", (call,)))

    def _forget_oldest(self) -> None:
        """Keep memory bounded: drop whole exchanges from the front, oldest first."""
        if len(self.messages) < self._max_messages:
            return
        keep_from = len(self.messages) - self._max_messages // 2
        while keep_from < len(self.messages) and not isinstance(
            self.messages[keep_from], UserMessage
        ):
            keep_from += 1
        del self.messages[:keep_from]

    def _close_open_calls(self) -> None:
        for call_id, name in self._open_calls.items():
            self.messages.append(
                ToolResultMessage(call_id, name, "the call was interrupted", is_error=True)
            )
        self._open_calls.clear()


def to_messages(entries: Iterable[TranscriptEntry]) -> list[Message]:
    """Rebuild the model's history from transcript entries."""
    history = History()
    for entry in entries:
        history.add(entry)
    return history.messages
