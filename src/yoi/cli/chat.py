"""``yoi chat``: talk to the Companion of a running backend, or to an embedded runtime's worker."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from yoi.cli.backend_address import find_backend
from yoi.cli.backend_chat import companion_interactive, companion_once
from yoi.cli.session import ChatOptions, Terminal, chat_interactive, chat_once
from yoi.runtime import BUILTIN_PROFILES
from yoi.workspace import config_path

__all__ = ["chat"]


@click.command()
@click.option(
    "--model",
    metavar="PROVIDER:MODEL",
    help="The model to talk to, e.g. openai:gpt-4o-mini or anthropic:claude-sonnet-4-5 "
    "(on an embedded runtime).",
)
@click.option(
    "--profile",
    type=click.Choice([profile.name for profile in BUILTIN_PROFILES]),
    help="The builtin profile of the worker (on an embedded runtime; default: the runtime's).",
)
@click.option(
    "--backend",
    "backend_url",
    metavar="URL",
    envvar="YOI_BACKEND_URL",
    show_envvar=True,
    help="Where to look for a running backend, as http://HOST:PORT or HOST:PORT (default: the "
    "`yoi serve` running for this workspace, else [backend] listen in .yoi/config.toml, "
    "else 127.0.0.1:8787).",
)
@click.pass_context
def chat(
    ctx: click.Context, model: str | None, profile: str | None, backend_url: str | None
) -> None:
    """Chat with the Companion of the running backend, or with a worker on the selected model.

    When a backend (`yoi serve`) answers, talk to its Companion; otherwise,
    or with --model or --profile, to a fresh worker of an embedded runtime.
    With a terminal, prompt for messages until Ctrl-D; Ctrl-C cancels a reply.
    With piped input, send all of it as one message and print the reply.
    """
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    terminal = Terminal(sys.stdout, sys.stderr, color=color)
    address = None
    if model is None and profile is None:
        address = find_backend(backend_url, Path.cwd(), os.environ)
    if address is not None:
        if sys.stdin.isatty():
            code = companion_interactive(address, terminal)
        else:
            code = companion_once(address, sys.stdin.read(), terminal)
        ctx.exit(code)
    options = ChatOptions(config=config_path(Path.cwd()), model=model, profile=profile)
    if sys.stdin.isatty():
        code = chat_interactive(options, os.environ, terminal)
    else:
        code = chat_once(options, sys.stdin.read(), os.environ, terminal)
    ctx.exit(code)
