"""A backend served in a process of its own, for the backend benchmarks, and the bench's side of it.

``python -m bench._backend [--workers N] URL ...`` opens a
:class:`~yoi.backend.Backend` whose embedded runtime (the offline model, a
memory store) holds ``N`` workers besides the Companion, with a
:class:`~yoi.backend.RemoteSource` for each runtime ``URL`` (``remote-1``,
``remote-2``, ... in order), serves :func:`~yoi.backend.create_backend_app`
without a token with :func:`~yoi.server.listen.listening` on 127.0.0.1 (port
0), prints ``listening on URL`` once every remote has answered and serves
until its stdin closes or it gets SIGTERM. Its config bundle is the builtin
profiles (a workspace without overrides), which it hands to each remote.

``YOI_BENCH_BACKEND_PROFILE=FILE`` runs the backend under :mod:`cProfile` and
writes its stats to ``FILE`` on exit; a variable of its own, so that the
runtime processes beside it (``YOI_BENCH_PROFILE``) do not write the same file.

The bench side starts it with :func:`backend_serving`, which yields a
:class:`~bench._server.ServerProcess` and ends it by closing its stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bench._server import ServerProcess, say_listening, serving_module, until_told_to_stop
from yoi.backend import (
    EMBEDDED_RUNTIME_ID,
    Backend,
    ModelLabel,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.backend.profiles import workspace_bundle
from yoi.client import RuntimeClient
from yoi.runtime import Runtime
from yoi.server.listen import listening
from yoi.testing import OfflineModel
from yoi.workspace import Workspace

__all__ = ["PROFILE_ENV", "backend_serving", "remote_id"]

PROFILE_ENV = "YOI_BENCH_BACKEND_PROFILE"
_TIMEOUT = 10.0
"""Each remote's timeout, the default of ``[[runtimes]] timeout``."""


def remote_id(index: int) -> str:
    """The backend's id of the runtime at ``URL`` number ``index`` (from 0)."""
    return f"remote-{index + 1}"


# -- the bench's side --------------------------------------------------------------


@contextlib.asynccontextmanager
async def backend_serving(*runtime_urls: str, workers: int = 0) -> AsyncIterator[ServerProcess]:
    """A backend process over the runtimes at ``runtime_urls``, ``workers`` embedded workers."""
    async with serving_module("bench._backend", "--workers", str(workers), *runtime_urls) as server:
        yield server


# -- the backend's side --------------------------------------------------------------


def _remote(index: int, url: str) -> RemoteSource:
    settings = RemoteRuntimeSettings(remote_id(index), url, timeout=_TIMEOUT)
    return RemoteSource(settings, RuntimeClient(url, timeout=_TIMEOUT))


async def _serve(runtime_urls: Sequence[str], workers: int) -> None:
    remotes = [_remote(index, url) for index, url in enumerate(runtime_urls)]
    runtime = Runtime(runtime_id=EMBEDDED_RUNTIME_ID, model=OfflineModel())
    with tempfile.TemporaryDirectory(prefix="yoi-bench-") as folder:
        bundle = workspace_bundle(Workspace(Path(folder)))
    model = ModelLabel(OfflineModel.name, offline=True)
    async with Backend(runtime=runtime, bundle=bundle, model=model, remotes=remotes) as backend:
        for remote in remotes:
            if remote.status != "available":
                raise RuntimeError(f"runtime {remote.runtime_id} did not answer at start")
        for _ in range(workers):
            await runtime.create_worker()
        app = create_backend_app(backend)
        async with listening(app, "127.0.0.1", 0) as listener:
            say_listening(listener.url)
            await until_told_to_stop()
            listener.stop_accepting()
            await backend.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench._backend")
    parser.add_argument("urls", nargs="*", help="the runtime processes to join, in order")
    parser.add_argument("--workers", type=int, default=0, help="embedded workers to create")
    options = parser.parse_args(argv)
    serve = _serve(options.urls, options.workers)
    profile_to = os.environ.get(PROFILE_ENV)
    if not profile_to:
        asyncio.run(serve)
        return
    profiler = cProfile.Profile()
    try:
        profiler.runcall(asyncio.run, serve)
    finally:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
