"""Carrying out a model's tool calls: lookup, argument parsing, a gate, timeout, bounded output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from yoi.engine.events import ToolCallFinished
from yoi.engine.messages import ToolCall
from yoi.engine.tool import Tool, ToolResult
from yoi.errors import YoiError

__all__ = ["ToolGate", "ToolLimits", "ToolRunner", "truncate"]

TRUNCATION_MARKER = "\n[… output truncated: {dropped} more characters]"


@dataclass(frozen=True, slots=True)
class ToolLimits:
    timeout: float = 120.0
    max_output: int = 32_000


class ToolGate(Protocol):
    """Decides whether a call may run, before it does; it may wait (for a person's answer).

    ``None`` lets the call go ahead; a result refuses it, and is what the model reads.
    """

    async def admit(self, call: ToolCall, arguments: Mapping[str, object]) -> ToolResult | None: ...


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters, ending with a visible marker when cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit] + TRUNCATION_MARKER.format(dropped=len(text) - limit), True


class ToolRunner:
    """Runs the calls of one model turn in parallel and reports each as it finishes."""

    def __init__(
        self, tools: Sequence[Tool], limits: ToolLimits, gate: ToolGate | None = None
    ) -> None:
        self._tools = {tool.name: tool for tool in tools}
        self._limits = limits
        self._gate = gate

    async def run(self, calls: Sequence[ToolCall]) -> AsyncIterator[ToolCallFinished]:
        tasks = {asyncio.ensure_future(self._finish(call)) for call in calls}
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()

    async def _finish(self, call: ToolCall) -> ToolCallFinished:
        result = await self._call(call)
        content, cut = truncate(result.text, self._limits.max_output)
        if cut:
            result = ToolResult(result.summary, content, result.is_error)
        return ToolCallFinished(call, result, truncated=cut)

    async def _call(self, call: ToolCall) -> ToolResult:
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolResult(f"unknown tool {call.name!r}", is_error=True)
        arguments = _parse_arguments(call.arguments)
        if isinstance(arguments, ToolResult):
            return arguments
        # The gate's wait (a person deciding) is not the tool's time: it runs before the timeout.
        refused = None if self._gate is None else await self._gate.admit(call, arguments)
        if refused is not None:
            return refused
        try:
            async with asyncio.timeout(self._limits.timeout):
                return await tool.call(arguments)
        except TimeoutError:
            return ToolResult(
                f"{call.name} timed out after {self._limits.timeout:g}s", is_error=True
            )
        except YoiError as error:
            return ToolResult(f"{call.name} failed: {error.message}", is_error=True)
        except Exception as error:  # a tool is foreign code: its failure is the model's to read
            return ToolResult(f"{call.name} failed: {type(error).__name__}: {error}", is_error=True)


def _parse_arguments(raw: str) -> Mapping[str, object] | ToolResult:
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as error:
        return ToolResult(f"arguments are not valid JSON: {error.msg}", is_error=True)
    if not isinstance(value, dict):
        return ToolResult("arguments must be a JSON object", is_error=True)
    return value
