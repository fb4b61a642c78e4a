"""The ``yoi`` command group: every command's typed errors become one line on stderr."""

from __future__ import annotations

from typing import Any

import click

import yoi
from yoi.cli.chat import chat
from yoi.cli.runtime import runtime
from yoi.cli.serve import serve
from yoi.cli.worker import worker
from yoi.errors import YoiError

__all__ = ["app"]


class _Group(click.Group):
    """A group that reports a :class:`~yoi.errors.YoiError` as ``yoi: code: message``, exit 1."""

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


app.add_command(chat)
app.add_command(runtime)
app.add_command(serve)
app.add_command(worker)
