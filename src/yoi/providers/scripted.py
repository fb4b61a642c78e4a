"""Deterministic models: a scripted one for tests and an offline one for demos."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from itertools import count

from yoi.engine.messages import ToolCall, UserMessage
from yoi.engine.model import (
    ModelChunk,
    ModelRequest,
    TextChunk,
    ThinkingChunk,
    ToolCallChunk,
    UsageChunk,
)
from yoi.errors import ProviderStreamBroken, ScriptError
from yoi.providers.script import Call, Cut, Fail, Stall, Step, Text, Think, Turn, Usage, Wait

__all__ = ["OFFLINE_NOTICE", "OfflineModel", "ScriptedModel"]

OFFLINE_NOTICE = (
    "No model is configured, so this is yoi's offline scripted model answering. "
    "Set OPENAI_API_KEY or ANTHROPIC_API_KEY, or pass --model provider:model "
    "(for example openai:gpt-4o-mini) to talk to a real one."
)


class ScriptedModel:
    """Plays a fixed script of turns, one per model request.

    It fails loudly: a request after the script is used up raises
    :class:`~yoi.errors.ScriptError` (and is remembered), and
    :meth:`assert_consumed` raises when turns are left over or a request
    overran the script.
    """

    def __init__(self, turns: Iterable[Turn], *, name: str = "scripted:test") -> None:
        self._turns = [tuple(turn) for turn in turns]
        self._next = 0
        self._name = name
        self._overruns = 0
        self._call_ids = count(1)
        self.requests: list[ModelRequest] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def remaining(self) -> int:
        return len(self._turns) - self._next

    def assert_consumed(self) -> None:
        if self._overruns:
            raise ScriptError(
                f"the script had {len(self._turns)} turns but was asked for "
                f"{len(self._turns) + self._overruns}"
            )
        if self.remaining:
            raise ScriptError(f"{self.remaining} scripted turn(s) were never requested")

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.requests.append(request)
        if self._next >= len(self._turns):
            self._overruns += 1
            raise ScriptError(
                f"the scripted model was asked for turn {self._next + 1} "
                f"but its script has {len(self._turns)}"
            )
        turn = self._turns[self._next]
        self._next += 1
        for step in turn:
            async for chunk in self._play(step):
                yield chunk

    async def _play(self, step: Step) -> AsyncIterator[ModelChunk]:
        match step:
            case Text(chunks=chunks):
                for text in chunks:
                    yield TextChunk(text)
                    await asyncio.sleep(0)  # a real stream lets others run between chunks
            case Think(chunks=chunks):
                for text in chunks:
                    yield ThinkingChunk(text)
                    await asyncio.sleep(0)
            case Call():
                call_id = step.id or f"call_{next(self._call_ids)}"
                yield ToolCallChunk(ToolCall(call_id, step.name, step.arguments))
            case Usage(input_tokens=used_in, output_tokens=used_out):
                yield UsageChunk(used_in, used_out)
            case Wait(seconds=seconds):
                await asyncio.sleep(seconds)
            case Stall():
                await asyncio.Event().wait()
            case Cut():
                raise ProviderStreamBroken("the scripted stream was cut off")
            case Fail(error=error):
                raise error


class OfflineModel:
    """The model used when none is configured: says so plainly, every time."""

    name = "scripted:offline"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        last = next(
            (m.content for m in reversed(request.messages) if isinstance(m, UserMessage)), ""
        )
        words = f"{OFFLINE_NOTICE}\n\nYou said: {last.strip()}".split(" ")
        for index, word in enumerate(words):
            yield TextChunk(word if index == 0 else " " + word)
            await asyncio.sleep(0)
        yield UsageChunk(input_tokens=len(last.split()), output_tokens=len(words))
