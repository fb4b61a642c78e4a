"""``yoi chat``: talk to a worker of an embedded runtime."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from yoi.cli.session import ChatOptions, Terminal, chat_interactive, chat_once
from yoi.runtime import BUILTIN_PROFILES
from yoi.workspace import config_path

__all__ = ["chat"]


@click.command()
@click.option(
    "--model",
    metavar="PROVIDER:MODEL",
    help="The model to talk to, e.g. openai:gpt-4o-mini or anthropic:claude-sonnet-4-5.",
)
@click.option(
    "--profile",
    type=click.Choice([profile.name for profile in BUILTIN_PROFILES]),
    help="The builtin profile of the worker (default: the runtime's default).",
)
@click.pass_context
def chat(ctx: click.Context, model: str | None, profile: str | None) -> None:
    """Chat with a worker on the selected model.

    With a terminal, prompt for messages until Ctrl-D; Ctrl-C cancels a reply.
    With piped input, send all of it as one message and print the reply.
    """
    options = ChatOptions(config=config_path(Path.cwd()), model=model, profile=profile)
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    terminal = Terminal(sys.stdout, sys.stderr, color=color)
    if sys.stdin.isatty():
        code = chat_interactive(options, os.environ, terminal)
    else:
        code = chat_once(options, sys.stdin.read(), os.environ, terminal)
    ctx.exit(code)
