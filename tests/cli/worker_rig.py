"""A backend served on loopback in the test's own event loop, for ``yoi worker`` run as a real
process: its embedded runtime with or without workdirs, and optionally a ``local`` runtime
behind a remote source (as ``yoi serve`` reaches its local runtime)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.cli.rig import DEADLINE, Done, cli_env, run_yoi
from tests.git_repo import tagged_repo

from yoi.backend import (
    EMBEDDED_RUNTIME_ID,
    Backend,
    ModelLabel,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.backend.profiles import workspace_bundle
from yoi.client import RuntimeClient
from yoi.engine.tool import Tool
from yoi.providers.script import Turn
from yoi.runtime import Runtime, RuntimeLimits
from yoi.runtime.workdirs import Workdirs
from yoi.server.app import create_app
from yoi.server.listen import listening
from yoi.testing import ScriptedModel
from yoi.workspace import Workspace

TOKEN = "worker-rig-token-never-printed"
RUNTIME_TOKEN = "worker-rig-runtime-token"
INTERNAL = EMBEDDED_RUNTIME_ID
LOCAL = "local"


@dataclass
class Served:
    url: str
    backend: Backend
    runtime: Runtime
    """The runtime under test: the embedded one, or ``local`` when there is one."""
    cwd: Path
    repository: Path | None

    async def yoi(self, *args: str) -> Done:
        """``yoi worker ARGS --backend URL`` with this backend's token in the environment."""
        return await run_yoi(
            "worker", *args, "--backend", self.url, cwd=self.cwd, env=cli_env(TOKEN)
        )


def _runtime(
    runtime_id: str,
    turns: Sequence[Turn],
    repository: Path | None,
    folder: Path,
    tools: Sequence[Tool],
    limits: RuntimeLimits | None,
) -> Runtime:
    workdirs = None if repository is None else Workdirs(repositories=[repository], folder=folder)
    return Runtime(
        runtime_id=runtime_id,
        model=ScriptedModel(list(turns)),
        workdirs=workdirs,
        tools=tools,
        limits=limits,
    )


@asynccontextmanager
async def served(
    root: Path,
    turns: Sequence[Turn] = (),
    *,
    workdirs: bool = True,
    local: bool = False,
    tools: Sequence[Tool] = (),
    profiles: dict[str, str] | None = None,
    limits: RuntimeLimits | None = None,
) -> AsyncIterator[Served]:
    """A backend for the workspace ``root/workspace``; its runtime under test plays ``turns``,
    offers ``tools``, and (with ``workdirs``) makes workdirs of a repository of its own. With
    ``local`` that runtime is ``local``, served over HTTP, and the embedded one makes none."""
    cwd = root / "workspace"
    (cwd / ".git").mkdir(parents=True)
    workspace = Workspace(cwd)
    for name, text in (profiles or {}).items():
        workspace.profiles.mkdir(parents=True, exist_ok=True)
        (workspace.profiles / f"{name}.md").write_text(text, encoding="utf-8")
    repository = tagged_repo(root / "repo") if workdirs else None
    under_test = _runtime(
        LOCAL if local else INTERNAL, turns, repository, root / "worktrees", tools, limits
    )
    async with AsyncExitStack() as exits:
        remotes: list[RemoteSource] = []
        embedded = under_test
        if local:
            embedded = Runtime(runtime_id=INTERNAL, model=ScriptedModel([]))
            await under_test.open()
            exits.push_async_callback(under_test.close)
            upstream = create_app(under_test, token=RUNTIME_TOKEN)
            far = await exits.enter_async_context(listening(upstream, "127.0.0.1", 0))
            settings = RemoteRuntimeSettings(LOCAL, far.url, timeout=5.0)
            client = RuntimeClient(far.url, token=RUNTIME_TOKEN, timeout=5.0)
            remotes.append(RemoteSource(settings, client, probing=Probing(interval=60.0)))
        backend = Backend(
            runtime=embedded,
            bundle=workspace_bundle(workspace),
            model=ModelLabel("scripted:test", offline=True),
            remotes=remotes,
        )
        await exits.enter_async_context(backend)
        for remote in remotes:
            async with asyncio.timeout(DEADLINE):
                await remote.until("available")
        app = create_backend_app(backend, token=TOKEN)
        listener = await exits.enter_async_context(listening(app, "127.0.0.1", 0))
        yield Served(listener.url, backend, under_test, cwd, repository)
