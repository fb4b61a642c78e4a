"""A fake tool for permission rules: it records the calls that reached it."""

from __future__ import annotations

from collections.abc import Mapping

from yoi.engine.tool import ToolResult

__all__ = ["Deploy"]


class Deploy:
    """``deploy``: does nothing but remember each call's arguments."""

    name = "deploy"
    description = "deploys"
    parameters: Mapping[str, object] = {"type": "object"}

    def __init__(self) -> None:
        self.calls: list[Mapping[str, object]] = []

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        self.calls.append(arguments)
        return ToolResult("deployed")
