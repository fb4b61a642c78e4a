"""``yoi tui``: the workspace in a terminal, as a client of its backend.

The backend is found as every client finds it (``--backend``,
``YOI_BACKEND_URL``, the workspace's running ``yoi serve``, its config), with
its token. A backend that does not answer yet is no error: the app says
"reconnecting…" until it does. Textual is the ``tui`` extra; without it the
command says how to install it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from yoi.cli.backend_address import BackendAddress, backend_option, check_workspace, connect, locate
from yoi.errors import RuntimeTimeout, RuntimeUnavailable, UnsupportedOperation

__all__ = ["tui"]

CLIENT_TIMEOUT = 10.0
"""Seconds a request of the terminal UI may take."""
SCREENS = ("board", "workers", "orchestrator", "companion")


@click.command()
@backend_option
@click.option(
    "--screen",
    type=click.Choice(SCREENS),
    default="board",
    show_default=True,
    help="The screen to start on.",
)
def tui(backend_url: str | None, screen: str) -> None:
    """The terminal UI: board, tickets, workers, consoles, the Companion, the orchestrator."""
    try:
        from yoi.tui.app import YoiApp
    except ImportError as error:
        raise UnsupportedOperation(
            f"the terminal UI needs the tui extra: pip install 'yoi[tui]' ({error.name})"
        ) from error
    address = locate(backend_url, Path.cwd(), os.environ)
    note = asyncio.run(_check(address))
    if note is not None:
        click.echo(f"yoi: {note}", err=True)
    YoiApp(lambda: connect(address, timeout=CLIENT_TIMEOUT), start=screen).run()


async def _check(address: BackendAddress) -> str | None:
    """Whether the backend serves this workspace; one that does not answer yet is let be."""
    async with connect(address, timeout=CLIENT_TIMEOUT) as client:
        try:
            return await check_workspace(client, address)
        except (RuntimeUnavailable, RuntimeTimeout):
            return None
