"""``yoi runtime serve``: run a runtime as its own process, for a backend to drive."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click

from yoi.errors import UnsupportedOperation

__all__ = ["runtime"]


@click.group()
def runtime() -> None:
    """Run and inspect runtime processes."""


@runtime.command()
@click.option("--runtime-id", help="The runtime's id; kept by an fs store across restarts.")
@click.option("--display-name", help="A label for people.")
@click.option("--bind", metavar="HOST:PORT", help="Where to listen (default 127.0.0.1:7701).")
@click.option("--store", type=click.Choice(["memory", "fs"]), help="Where workers are kept.")
@click.option("--store-root", type=click.Path(path_type=Path), help="The fs store's directory.")
@click.option("--token-env", metavar="VAR", help="The environment variable holding the token.")
@click.option("--token-file", type=click.Path(path_type=Path), help="A file holding the token.")
@click.option("--model", metavar="PROVIDER:MODEL", help="The model workers use.")
@click.option(
    "--role-model",
    "role_models",
    multiple=True,
    metavar="ROLE=PROVIDER:MODEL",
    help="The model of the workers of one role: orchestrator, coder or reviewer (repeatable).",
)
@click.option(
    "--repository",
    "repositories",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="A repository workers' workdirs may be made of (repeatable).",
)
@click.option(
    "--worktrees",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where workdirs go, a folder shared with others (default: beside the store).",
)
@click.option(
    "--spare-worktrees",
    type=click.IntRange(0, 16),
    help="Deleted worktrees kept to make the next workdir fast (default 0).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["bwrap", "none"]),
    help="How bash is confined (default bwrap; none runs it unconfined, shown as a warning).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A TOML file with the same settings; flags win over it.",
)
def serve(config_file: Path | None, **flags: object) -> None:
    """Serve a runtime's REST API and observation stream until SIGTERM or Ctrl-C.

    Prints one line, `listening on http://HOST:PORT`, once it accepts
    connections. Listening beyond loopback needs a token (from --token-env,
    --token-file or YOI_RUNTIME_TOKEN). Without a repository, workers get no
    workdirs and no file, shell or git tools.
    """
    try:
        from yoi.server.process import serve_runtime
        from yoi.server.settings import ServeSettings
    except ImportError as error:
        raise UnsupportedOperation(
            f"the runtime server needs the server extra: pip install 'yoi[server]' ({error.name})"
        ) from error
    logging.basicConfig(level=logging.WARNING, format="yoi runtime: %(levelname)s: %(message)s")
    base = ServeSettings() if config_file is None else ServeSettings.from_toml(config_file)
    settings = base.override(flags, cwd=Path.cwd())
    asyncio.run(serve_runtime(settings, os.environ, sys.stdout))
