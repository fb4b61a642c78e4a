"""``yoi runtime serve`` as a process: open the runtime, listen, shut down cleanly on a signal.

Shutdown order on SIGTERM or SIGINT: stop accepting connections; close the
runtime, which cancels active runs (each recorded ``cancelled``), ends every
observation stream (close code 1001, resume by cursor) and flushes the store;
then let the server finish its open connections, for at most two seconds.

Given repositories, the runtime makes workdirs of them (kept beside its
store) and probes the sandbox its workers' ``bash`` runs in; a sandbox that
cannot run, or ``sandbox = "none"``, is said on stderr at start as well as in
the runtime's diagnostics. Without repositories there are no file, shell or
git tools, so nothing is probed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from typing import TextIO

from yoi.engine.model import Model
from yoi.errors import InvalidRequest
from yoi.providers.selection import ModelSettings, aclose_model, build_model, select_model
from yoi.runtime import Runtime
from yoi.runtime.stores import Store
from yoi.runtime.workdirs import Workdirs
from yoi.server.app import create_app
from yoi.server.listen import listening
from yoi.server.settings import ServeSettings, is_loopback
from yoi.tools.sandbox import Sandbox

__all__ = ["serve_runtime"]

log = logging.getLogger("yoi.server")


async def serve_runtime(
    settings: ServeSettings,
    env: Mapping[str, str],
    out: TextIO,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set, or until SIGTERM or SIGINT when no event is given."""
    host, port = settings.address()
    token = settings.token(env)
    if token is None and not is_loopback(host):
        raise InvalidRequest(
            f"refusing to listen on {host} without a token: anyone who can reach it could "
            "drive this runtime; give one with --token-env or --token-file",
            details={"field": "bind"},
        )
    _check_repositories(settings)
    store = settings.store.build()
    workdirs, sandbox = await _workdirs_and_sandbox(settings, store)
    model = build_model(select_model(settings.model, ModelSettings(), env), env)
    role_models: dict[str, Model] = {}
    try:
        for role, reference in settings.role_models.items():
            role_models[role] = build_model(select_model(reference, ModelSettings(), env), env)
        runtime = Runtime(
            runtime_id=settings.runtime_id,
            display_name=settings.display_name,
            store=store,
            model=model,
            workdirs=workdirs,
            sandbox=sandbox,
            role_models=role_models,
        )
        stop = stop or _signalled()
        async with runtime:
            app = create_app(runtime, token=token, bind_host=host)
            async with listening(app, host, port, ping_interval=settings.ping_interval) as server:
                out.write(f"listening on {server.url}\n")
                out.flush()
                await stop.wait()
                server.stop_accepting()
                await runtime.close()
    finally:
        for built in (model, *role_models.values()):
            await aclose_model(built)


def _check_repositories(settings: ServeSettings) -> None:
    for repository in settings.repositories:
        if not repository.is_dir():
            raise InvalidRequest(
                f"the repository {repository} is not a directory",
                details={"field": "repositories"},
            )


async def _workdirs_and_sandbox(
    settings: ServeSettings, store: Store
) -> tuple[Workdirs | None, Sandbox | None]:
    if not settings.repositories:
        return None, None
    sandbox = await Sandbox.probe(settings.sandbox)
    status = sandbox.status
    if not status.available:
        log.warning("bash is unavailable: %s", status.diagnostic)
    elif status.diagnostic:
        log.warning("%s", status.diagnostic)
    workdirs = Workdirs.beside(
        store,
        settings.repositories,
        folder=settings.worktrees,
        spares=settings.spare_worktrees,
    )
    return workdirs, sandbox


def _signalled() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
