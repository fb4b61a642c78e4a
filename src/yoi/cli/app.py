"""The ``yoi`` command group: every command's typed errors become one line on stderr.

Subcommands are imported only when they run (or when ``--help`` lists them):
``yoi ticket list`` should not pay for importing the runtime and the chat
interface it never uses.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

import yoi
from yoi.errors import YoiError

__all__ = ["app"]

_COMMANDS = {
    "chat": "yoi.cli.chat:chat",
    "orchestrator": "yoi.cli.orchestrator:orchestrator",
    "runtime": "yoi.cli.runtime:runtime",
    "serve": "yoi.cli.serve:serve",
    "ticket": "yoi.cli.ticket:ticket",
    "tui": "yoi.cli.tui:tui",
    "worker": "yoi.cli.worker:worker",
}


class _Group(click.Group):
    """Loads subcommands lazily and reports a :class:`~yoi.errors.YoiError` as one line, exit 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS and cmd_name not in self.commands:
            module, _, name = _COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), name)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except YoiError as error:
            click.echo(f"yoi: {error.code}: {error.message}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(yoi.__version__, prog_name="yoi")
def app() -> None:
    """yoi: an agent runtime and workspace control plane."""
