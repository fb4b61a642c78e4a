"""The turn loop of one agent run: request, stream, call tools, repeat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from yoi.engine.events import (
    AssistantReply,
    EngineEvent,
    Retrying,
    RunEnded,
    RunResult,
    TextDelta,
    TextDone,
    ThinkingDelta,
    ThinkingDone,
    ToolCallStarted,
    UsageReport,
)
from yoi.engine.messages import AssistantMessage, Message, ToolCall, ToolResultMessage
from yoi.engine.model import (
    Model,
    ModelRequest,
    RetryChunk,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    UsageChunk,
)
from yoi.engine.tool import Tool, spec_of
from yoi.engine.tool_calls import ToolGate, ToolLimits, ToolRunner
from yoi.errors import YoiError

__all__ = ["Engine", "EngineLimits"]


@dataclass(frozen=True, slots=True)
class EngineLimits:
    max_turns: int = 24
    tools: ToolLimits = field(default_factory=ToolLimits)
    max_output_tokens: int | None = None


@dataclass(slots=True)
class _Turn:
    """What one model response has said so far."""

    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    thinking_open: bool = False
    calls: list[ToolCall] = field(default_factory=list)

    def message(self) -> AssistantMessage:
        return AssistantMessage("".join(self.text), tuple(self.calls), "".join(self.thinking))


class Engine:
    """Runs a conversation forward until the model stops asking for tools.

    A ``gate`` sees each tool call before it runs and may refuse it (permission rules).

    A run yields :mod:`yoi.engine.events` and always ends with :class:`RunEnded`,
    unless it is cancelled, in which case ``CancelledError`` propagates.
    """

    def __init__(
        self,
        model: Model,
        *,
        tools: Sequence[Tool] = (),
        limits: EngineLimits | None = None,
        gate: ToolGate | None = None,
    ) -> None:
        self._model = model
        self._limits = limits or EngineLimits()
        self._tools = ToolRunner(tools, self._limits.tools, gate)
        self._specs = tuple(spec_of(tool) for tool in tools)

    @property
    def model_name(self) -> str:
        return self._model.name

    async def run(self, system: str, history: Sequence[Message]) -> AsyncIterator[EngineEvent]:
        messages = list(history)
        for _ in range(self._limits.max_turns):
            turn = _Turn()
            try:
                async for event in self._stream(system, messages, turn):
                    yield event
            except YoiError as error:
                yield RunEnded(RunResult.FAILED, error)
                return
            reply = turn.message()
            messages.append(reply)
            yield AssistantReply(reply)
            if not reply.tool_calls:
                yield RunEnded(RunResult.COMPLETED)
                return
            async for event in self._call_tools(reply.tool_calls, messages):
                yield event
        yield RunEnded(RunResult.LIMIT_REACHED)

    async def _stream(
        self, system: str, messages: list[Message], turn: _Turn
    ) -> AsyncIterator[EngineEvent]:
        request = ModelRequest(system, tuple(messages), self._specs, self._limits.max_output_tokens)
        async for chunk in self._model.stream(request):
            if turn.thinking_open and not isinstance(chunk, ThinkingChunk):
                turn.thinking_open = False
                yield ThinkingDone("".join(turn.thinking))
            match chunk:
                case TextChunk(text=text):
                    turn.text.append(text)
                    yield TextDelta(text)
                case ThinkingChunk(text=text):
                    turn.thinking_open = True
                    turn.thinking.append(text)
                    yield ThinkingDelta(text)
                case ToolCallChunk(call=call):
                    turn.calls.append(call)
                case UsageChunk(input_tokens=used_in, output_tokens=used_out):
                    yield UsageReport(used_in, used_out)
                case RetryChunk(attempt=attempt, delay=delay, code=code, message=message):
                    yield Retrying(attempt, delay, code, message)
        if turn.thinking_open:
            yield ThinkingDone("".join(turn.thinking))
        if turn.text:
            yield TextDone("".join(turn.text))

    async def _call_tools(
        self, calls: Sequence[ToolCall], messages: list[Message]
    ) -> AsyncIterator[EngineEvent]:
        for call in calls:
            yield ToolCallStarted(call)
        results: dict[str, ToolResultMessage] = {}
        async for finished in self._tools.run(calls):
            result = finished.result
            results[finished.call.id] = ToolResultMessage(
                finished.call.id, finished.call.name, result.text, result.is_error
            )
            yield finished
        messages.extend(results[call.id] for call in calls)
