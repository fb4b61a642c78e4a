"""The provider-neutral conversation: what a model is shown and what it said."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AssistantMessage", "Message", "ToolCall", "ToolResultMessage", "UserMessage"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A model's request to call a tool. ``arguments`` is the raw JSON text the model wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class UserMessage:
    content: str


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    text: str
    tool_calls: tuple[ToolCall, ...] = field(default=())
    thinking: str = ""


@dataclass(frozen=True, slots=True)
class ToolResultMessage:
    call_id: str
    name: str
    content: str
    is_error: bool = False


Message = UserMessage | AssistantMessage | ToolResultMessage
