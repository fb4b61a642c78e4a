"""``yoi chat`` without the command line: a runtime, one worker, the selected model, a loop.

Two ways to talk: :func:`chat_once` sends one message (piped stdin) and
:func:`chat_interactive` reads lines until end of input. Ctrl-C during a reply
cancels the run and returns to the prompt.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from yoi.cli.conversation import Conversation
from yoi.cli.render import ReplyRenderer
from yoi.errors import InvalidRequest, YoiError
from yoi.providers.selection import (
    ModelChoice,
    ModelSettings,
    aclose_model,
    build_model,
    select_model,
)
from yoi.runtime import Runtime

__all__ = [
    "ChatOptions",
    "Terminal",
    "announce",
    "chat_interactive",
    "chat_once",
    "open_chat",
    "read_prompt",
]

PROMPT = "you> "


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """What ``yoi chat`` was asked for; ``config`` is the workspace's ``config.toml``."""

    config: Path
    model: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class Terminal:
    """Where a chat writes: the reply to ``out``, notices and errors to ``err``."""

    out: TextIO
    err: TextIO
    color: bool = False

    def say(self, line: str) -> None:
        self.err.write(f"yoi: {line}\n")
        self.err.flush()


def announce(choice: ModelChoice) -> str:
    """The line that says which model answers, plainly so when it is the offline one."""
    if choice.source == "fallback":
        return (
            "no model configured; answering with the offline scripted model. "
            "Set OPENAI_API_KEY or ANTHROPIC_API_KEY, or pass --model provider:model."
        )
    if choice.offline:
        return f"answering with the offline scripted model ({choice.reference})"
    if choice.demo:
        return f"answering with the demo playbook model ({choice.reference}): {_DEMO}"
    return f"chatting with {choice.reference}"


_DEMO = "it only plays the orchestrator's roles, from what a ticket spells out"


@asynccontextmanager
async def open_chat(
    options: ChatOptions, env: Mapping[str, str], terminal: Terminal
) -> AsyncIterator[Conversation]:
    """A conversation with a fresh worker on the selected model, announced on ``err``."""
    choice = select_model(options.model, ModelSettings.from_toml(options.config), env)
    model = build_model(choice, env)
    try:
        terminal.say(announce(choice))
        renderer = ReplyRenderer(terminal.out, terminal.err, color=terminal.color)
        async with Runtime(model=model) as runtime:
            yield await Conversation.start(runtime, renderer, profile=options.profile)
    finally:
        await aclose_model(model)


def chat_once(
    options: ChatOptions, content: str, env: Mapping[str, str], terminal: Terminal
) -> int:
    """Send ``content`` as one message and print the reply: 0 if it completed, else 1."""
    if not content.strip():
        raise InvalidRequest("nothing to send: the input was empty")
    return asyncio.run(_once(options, content, env, terminal))


async def _once(
    options: ChatOptions, content: str, env: Mapping[str, str], terminal: Terminal
) -> int:
    async with open_chat(options, env, terminal) as conversation:
        reply = await conversation.send(content)
    if reply.problem is not None:
        terminal.say(reply.problem)
        return 1
    return 0


def chat_interactive(
    options: ChatOptions,
    env: Mapping[str, str],
    terminal: Terminal,
    read_line: Callable[[str], str] = input,
) -> int:
    """Prompt, send, stream, repeat until end of input (Ctrl-D). Returns 0."""
    with suppress(ImportError):
        importlib.import_module("readline")  # line editing and history for input()
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        conversation = runner.run(stack.enter_async_context(open_chat(options, env, terminal)))
        terminal.say("Ctrl-C cancels a reply, Ctrl-D exits")
        try:
            while (line := read_prompt(read_line, terminal)) is not None:
                if line.strip():
                    _exchange(runner, conversation, line, terminal)
        finally:
            runner.run(stack.aclose())
    return 0


def read_prompt(read_line: Callable[[str], str], terminal: Terminal) -> str | None:
    """The next line, or None at end of input; Ctrl-C at the prompt just asks again."""
    while True:
        try:
            return read_line(PROMPT)
        except EOFError:
            terminal.err.write("\n")
            return None
        except KeyboardInterrupt:
            terminal.err.write("\n")


def _exchange(
    runner: asyncio.Runner, conversation: Conversation, line: str, terminal: Terminal
) -> None:
    try:
        reply = runner.run(conversation.send(line))
    except KeyboardInterrupt:
        # asyncio.Runner turned Ctrl-C into cancelling the send; now cancel the run itself.
        runner.run(conversation.cancel())
        terminal.say("reply cancelled")
        return
    except YoiError as error:
        terminal.say(f"{error.code}: {error.message}")
        return
    if reply.problem is not None:
        terminal.say(reply.problem)
