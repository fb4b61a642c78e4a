"""``yoi serve``: the workspace backend, its web console and API, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click

from yoi.errors import UnsupportedOperation
from yoi.web import ASSETS
from yoi.workspace import Workspace

__all__ = ["serve"]


@click.command()
@click.option(
    "--workspace",
    "folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The workspace folder (default: the git repository around the current directory).",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where to listen (default: [backend] listen in .yoi/config.toml, else 127.0.0.1:8787; "
    "port 0 picks a free port).",
)
@click.option("--model", metavar="PROVIDER:MODEL", help="The embedded runtime's model.")
def serve(folder: Path | None, listen: str | None, model: str | None) -> None:
    """Serve the workspace backend: its runtimes, workers and Companion.

    Prints `listening on http://HOST:PORT` once it accepts connections, and
    records that address in .yoi/state/backend.json for the clients of this
    workspace. It creates .yoi/ when missing, keeps the embedded runtime's
    workers under .yoi/state/, and joins the runtimes listed in .yoi/config.toml.
    """
    try:
        from yoi.backend.process import ServeOptions, serve_backend
    except ImportError as error:
        raise UnsupportedOperation(
            f"the backend needs the server extra: pip install 'yoi[server]' ({error.name})"
        ) from error
    logging.basicConfig(level=logging.WARNING, format="yoi serve: %(levelname)s: %(message)s")
    workspace = Workspace(folder.resolve()) if folder else Workspace.find(Path.cwd())
    options = ServeOptions(workspace, listen=listen, model=model, console=ASSETS)
    asyncio.run(serve_backend(options, os.environ, sys.stdout))
