"""The chat conversation in-process: a real runtime on a scripted model, output captured."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from yoi.cli.conversation import Conversation, Reply
from yoi.cli.render import ReplyRenderer
from yoi.engine.messages import UserMessage
from yoi.errors import ProviderAuthError
from yoi.providers.script import Turn
from yoi.runtime import Runtime, Subscription
from yoi.runtime.events import TextDeltaEvent, ToolCallStartedEvent
from yoi.testing import Call, Fail, ScriptedModel, Stall, Text, Think

DEADLINE = 5.0


class Watched(io.StringIO):
    """A text buffer that tells waiters when something was written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def write(self, text: str, /) -> int:
        self.written.set()
        return super().write(text)


class Screen:
    """What a conversation wrote: the reply stream and the notes stream."""

    def __init__(self) -> None:
        self.out = Watched()
        self.err = io.StringIO()

    def renderer(self, *, color: bool = False) -> ReplyRenderer:
        return ReplyRenderer(self.out, self.err, color=color)


class Chat:
    def __init__(self, runtime: Runtime, conversation: Conversation, screen: Screen) -> None:
        self.runtime = runtime
        self.conversation = conversation
        self.screen = screen


@asynccontextmanager
async def open_chat(model: ScriptedModel, *, color: bool = False) -> AsyncIterator[Chat]:
    screen = Screen()
    async with Runtime(model=model) as runtime:
        conversation = await Conversation.start(runtime, screen.renderer(color=color))
        yield Chat(runtime, conversation, screen)


async def first_text(events: Subscription) -> None:
    """Wait until the reply has begun to stream."""
    async with events:
        async for event in events:
            if isinstance(event.event, TextDeltaEvent):
                return


async def send(chat: Chat, content: str) -> Reply:
    async with asyncio.timeout(DEADLINE):
        return await chat.conversation.send(content)


async def test_a_reply_streams_in_order_and_completes() -> None:
    model = ScriptedModel([[Text("Hel", "lo, ", "world")], [Text("again")]])
    async with open_chat(model) as chat:
        first = await send(chat, "hi")
        second = await send(chat, "once more")
    assert first == Reply(first.run_id, "completed", "Hello, world")
    assert first.ok
    assert first.problem is None
    assert second.text == "again"
    assert chat.screen.out.getvalue() == "Hello, world\nagain\n"
    assert chat.screen.err.getvalue() == ""
    model.assert_consumed()
    assert model.requests[1].messages[-1] == UserMessage("once more")


async def test_the_text_deltas_reach_the_screen_while_the_run_is_still_going() -> None:
    model = ScriptedModel([[Text("first words"), Stall()]])
    async with open_chat(model) as chat:
        sending = asyncio.create_task(chat.conversation.send("go"))
        async with asyncio.timeout(DEADLINE):
            await chat.screen.out.written.wait()
            assert chat.screen.out.getvalue() == "first words"
            assert await chat.conversation.cancel() is True
            reply = await sending
    assert reply.result == "cancelled"
    assert reply.text == "first words"
    assert chat.screen.out.getvalue() == "first words\n"


async def test_after_a_cancel_the_next_message_gets_a_reply() -> None:
    model = ScriptedModel([[Text("slow"), Stall()], [Text("fresh")]])
    async with open_chat(model) as chat:
        events = await chat.runtime.subscribe(chat.conversation.worker_id)
        sending = asyncio.create_task(chat.conversation.send("one"))
        async with asyncio.timeout(DEADLINE):
            await first_text(events)
            await chat.conversation.cancel()
            cancelled = await sending
        reply = await send(chat, "two")
    assert cancelled.result == "cancelled"
    assert cancelled.problem == "the run ended cancelled"
    assert reply.ok
    assert reply.text == "fresh"


async def test_cancel_with_nothing_running_says_so() -> None:
    async with open_chat(ScriptedModel([])) as chat:
        assert await chat.conversation.cancel() is False


async def test_a_failed_run_reports_its_code_and_message() -> None:
    model = ScriptedModel([[Fail(ProviderAuthError("the key was refused", status=401))]])
    async with open_chat(model) as chat:
        reply = await send(chat, "hi")
    assert reply.result == "failed"
    assert (reply.error_code, reply.error_message) == ("provider_auth", "the key was refused")
    assert reply.problem == "the run ended failed: provider_auth: the key was refused"


async def test_thinking_is_dimmed_on_a_terminal_and_skipped_when_piped() -> None:
    turns: list[Turn] = [[Think("hmm"), Text("answer")]]
    async with open_chat(ScriptedModel(turns), color=True) as chat:
        await send(chat, "q")
    assert chat.screen.out.getvalue() == "\x1b[2mhmm\x1b[0m\nanswer\n"
    async with open_chat(ScriptedModel(turns), color=False) as chat:
        await send(chat, "q")
    assert chat.screen.out.getvalue() == "answer\n"


async def test_a_tool_call_is_one_line_on_the_notes_stream() -> None:
    model = ScriptedModel([[Text("Let me look."), Call("read_file", {"path": "a.txt"})], []])
    async with open_chat(model) as chat:
        reply = await send(chat, "read it")
    assert chat.screen.out.getvalue() == "Let me look.\n"
    lines = chat.screen.err.getvalue().splitlines()
    assert lines[0] == '[tool] read_file {"path": "a.txt"}'
    assert lines[1].startswith("[tool] read_file failed: ")
    assert reply.ok


@pytest.mark.parametrize("color", [True, False])
def test_long_tool_arguments_are_clipped_to_one_line(color: bool) -> None:
    screen = Screen()
    renderer = screen.renderer(color=color)
    renderer.render(ToolCallStartedEvent("r1", "c1", "write", '{"text":\n"' + "x" * 200 + '"}'))
    (line,) = screen.err.getvalue().splitlines()
    assert line.startswith('[tool] write {"text": "xxx')
    assert line.endswith("...")
    assert len(line) == len("[tool] write ") + 80
