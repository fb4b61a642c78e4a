"""The seam for tools: anything with a name, a schema and an async ``call``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from yoi.engine.model import ToolSpec

__all__ = ["Tool", "ToolResult", "spec_of"]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call produced.

    ``summary`` is a one-line account for people; ``content`` is what the model
    reads (the summary when absent); ``is_error`` marks a failed call.
    """

    summary: str
    content: str | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        return self.summary if self.content is None else self.content


class Tool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, object]: ...

    async def call(self, arguments: Mapping[str, object]) -> ToolResult: ...


def spec_of(tool: Tool) -> ToolSpec:
    return ToolSpec(name=tool.name, description=tool.description, parameters=tool.parameters)
