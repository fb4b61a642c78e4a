"""The seam between the engine and a model provider.

A model turns a :class:`ModelRequest` into a stream of chunks. Providers raise
:class:`yoi.errors.ProviderError` subclasses and nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from yoi.engine.messages import Message, ToolCall

__all__ = [
    "Model",
    "ModelChunk",
    "ModelRequest",
    "RetryChunk",
    "TextChunk",
    "ThinkingChunk",
    "ToolCallChunk",
    "ToolSpec",
    "UsageChunk",
]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What a model is told about a tool: its name, purpose and JSON schema of arguments."""

    name: str
    description: str
    parameters: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = field(default=())
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A complete tool call; providers assemble argument fragments before yielding it."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class UsageChunk:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class RetryChunk:
    """A transient failure happened before any output; the request is retried after ``delay``."""

    attempt: int
    delay: float
    code: str
    message: str


ModelChunk = TextChunk | ThinkingChunk | ToolCallChunk | UsageChunk | RetryChunk


class Model(Protocol):
    """A model back-end. ``name`` is its ``provider:model`` reference."""

    @property
    def name(self) -> str: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]: ...
