"""Conversations with a running backend's workers and its Companion (``yoi chat`` when a
backend answers); :mod:`yoi.cli.backend_address` says which backend.

The HTTP client needs the server extra, so it is imported when first used:
``yoi`` without that extra still starts, and ``yoi chat`` then uses an
embedded runtime.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import TYPE_CHECKING

from yoi.cli.backend_address import BackendAddress, check_workspace, connect
from yoi.cli.conversation import Reply
from yoi.cli.render import ReplyRenderer
from yoi.cli.session import Terminal, read_prompt
from yoi.errors import InvalidRequest, RuntimeUnavailable, YoiError
from yoi.runtime import Event, InputAck, OnBusy
from yoi.runtime.events import (
    ErrorEvent,
    EventBody,
    InputAccepted,
    RunFinished,
    RunStarted,
    TextDeltaEvent,
    TextDoneEvent,
    ThinkingDeltaEvent,
    ThinkingDoneEvent,
    ToolCallFinishedEvent,
    ToolCallStartedEvent,
    UsageEvent,
    WorkerStoppedEvent,
)

if TYPE_CHECKING:
    from yoi.client.backend import BackendClient, CompanionInfo

__all__ = [
    "BackendConversation",
    "companion_interactive",
    "companion_once",
    "follow_run",
]

Deliver = Callable[[str, OnBusy], Awaitable[InputAck]]


# -- a conversation with one worker ---------------------------------------------------------


class BackendConversation:
    """Talks to one worker of a backend and renders its replies as they stream."""

    def __init__(
        self,
        client: BackendClient,
        runtime_id: str,
        worker_id: str,
        renderer: ReplyRenderer,
        *,
        deliver: Deliver | None = None,
    ) -> None:
        self._client = client
        self._renderer = renderer
        self.runtime_id = runtime_id
        self.worker_id = worker_id
        self._deliver = deliver or self._send_input

    @classmethod
    def companion(
        cls, client: BackendClient, info: CompanionInfo, renderer: ReplyRenderer
    ) -> BackendConversation:
        """The backend's Companion, which takes messages through its own route."""
        return cls(
            client, info.runtime_id, info.worker_id, renderer, deliver=client.send_to_companion
        )

    async def send(self, content: str, on_busy: OnBusy = OnBusy.REJECT) -> Reply:
        """Send ``content`` and render the reply until its run finishes."""
        async with await self._client.subscribe(self.runtime_id, self.worker_id) as events:
            ack = await self._deliver(content, on_busy)
            try:
                return await follow_run(events, ack.run_id, self._renderer)
            finally:
                self._renderer.end_line()

    async def cancel(self) -> bool:
        """Cancel the worker's run in flight; False when nothing was running."""
        self._renderer.end_line()
        ack = await self._client.cancel_worker(self.runtime_id, self.worker_id)
        return ack.cancelled

    async def _send_input(self, content: str, on_busy: OnBusy) -> InputAck:
        return await self._client.send_input(self.runtime_id, self.worker_id, content, on_busy)


async def follow_run(events: AsyncIterator[Event], run_id: str, renderer: ReplyRenderer) -> Reply:
    """Render the events of run ``run_id`` until it finishes; other runs' events are skipped
    (an enqueued input waits for the run before it)."""
    text: list[str] = []
    async for event in events:
        body = event.event
        if isinstance(body, WorkerStoppedEvent):
            return Reply(run_id, "cancelled", "".join(text), "worker_stopped", "the worker stopped")
        if _run_of(body) != run_id:
            continue
        renderer.render(body)
        match body:
            case TextDeltaEvent(text=delta):
                text.append(delta)
            case RunFinished(result=result, error=error):
                return _reply(run_id, result, "".join(text), error)
            case _:
                pass
    raise RuntimeUnavailable("the backend ended the stream before the reply finished")


def _reply(run_id: str, result: str, text: str, error: dict[str, object] | None) -> Reply:
    if error is None:
        return Reply(run_id, result, text)
    return Reply(run_id, result, text, str(error.get("code")), str(error.get("message")))


def _run_of(body: EventBody) -> str | None:
    match body:
        case (
            InputAccepted()
            | RunStarted()
            | TextDeltaEvent()
            | TextDoneEvent()
            | ThinkingDeltaEvent()
            | ThinkingDoneEvent()
            | ToolCallStartedEvent()
            | ToolCallFinishedEvent()
            | UsageEvent()
            | RunFinished()
            | ErrorEvent()
        ):
            return body.run_id
        case _:
            return None


# -- ``yoi chat`` with the Companion ----------------------------------------------------------


def announce_companion(address: BackendAddress, info: CompanionInfo) -> str:
    model = "the offline scripted model" if info.offline else info.model
    return f"chatting with the Companion of the backend at {address.url} ({model})"


@asynccontextmanager
async def open_companion(
    address: BackendAddress, terminal: Terminal
) -> AsyncIterator[BackendConversation]:
    """A conversation with the backend's Companion, announced on ``err``."""
    async with connect(address) as client:
        note = await check_workspace(client, address)
        if note is not None:
            terminal.say(note)
        info = await client.companion()
        terminal.say(announce_companion(address, info))
        renderer = ReplyRenderer(terminal.out, terminal.err, color=terminal.color)
        yield BackendConversation.companion(client, info, renderer)


def companion_once(address: BackendAddress, content: str, terminal: Terminal) -> int:
    """Send ``content`` to the Companion and print the reply: 0 if it completed, else 1.

    Ctrl-C cancels the reply on the backend.
    """
    if not content.strip():
        raise InvalidRequest("nothing to send: the input was empty")
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        conversation = runner.run(stack.enter_async_context(open_companion(address, terminal)))
        try:
            return _exchange(runner, conversation, content, terminal, fail=True)
        finally:
            runner.run(stack.aclose())


def companion_interactive(
    address: BackendAddress, terminal: Terminal, read_line: Callable[[str], str] = input
) -> int:
    """Prompt, send to the Companion, stream, repeat until end of input (Ctrl-D). Returns 0."""
    with suppress(ImportError):
        importlib.import_module("readline")  # line editing and history for input()
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        conversation = runner.run(stack.enter_async_context(open_companion(address, terminal)))
        terminal.say("Ctrl-C cancels a reply, Ctrl-D exits")
        try:
            while (line := read_prompt(read_line, terminal)) is not None:
                if line.strip():
                    _exchange(runner, conversation, line, terminal, fail=False)
        finally:
            runner.run(stack.aclose())
    return 0


def _exchange(
    runner: asyncio.Runner,
    conversation: BackendConversation,
    line: str,
    terminal: Terminal,
    *,
    fail: bool,
) -> int:
    """One message and its reply: 0 if it completed, else 1. With ``fail``, a typed error
    raises (the command reports it); without, it is said and the chat goes on."""
    try:
        reply = runner.run(conversation.send(line))
    except KeyboardInterrupt:
        # asyncio.Runner turned Ctrl-C into cancelling the send; now cancel the run itself.
        runner.run(conversation.cancel())
        terminal.say("reply cancelled")
        return 1
    except YoiError as error:
        if fail:
            raise
        terminal.say(f"{error.code}: {error.message}")
        return 1
    if reply.problem is not None:
        terminal.say(reply.problem)
        return 1
    return 0
