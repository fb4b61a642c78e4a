"""``yoi runtime serve`` as a process: open the runtime, listen, shut down cleanly on a signal.

Shutdown order on SIGTERM or SIGINT: stop accepting connections; close the
runtime, which cancels active runs (each recorded ``cancelled``), ends every
observation stream (close code 1001, resume by cursor) and flushes the store;
then let the server finish its open connections, for at most two seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from typing import TextIO

from yoi.errors import InvalidRequest
from yoi.providers.selection import ModelSettings, aclose_model, build_model, select_model
from yoi.runtime import Runtime
from yoi.server.app import create_app
from yoi.server.listen import listening
from yoi.server.settings import ServeSettings, is_loopback

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
    model = build_model(select_model(settings.model, ModelSettings(), env), env)
    runtime = Runtime(
        runtime_id=settings.runtime_id,
        display_name=settings.display_name,
        store=settings.store.build(),
        model=model,
    )
    stop = stop or _signalled()
    try:
        async with runtime:
            app = create_app(runtime, token=token, bind_host=host)
            async with listening(app, host, port, ping_interval=settings.ping_interval) as server:
                out.write(f"listening on {server.url}\n")
                out.flush()
                await stop.wait()
                server.stop_accepting()
                await runtime.close()
    finally:
        await aclose_model(model)


def _signalled() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
