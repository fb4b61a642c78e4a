"""The workspace's local runtime: a ``yoi runtime serve`` child that ``yoi serve`` keeps running.

It is registered as runtime ``local`` (kind ``local``) and reached like a remote
runtime: each run of the child gets its own :class:`RemoteSource` at the
address it printed, with a token made for this backend and handed over in the
child's environment. Its workers live in an fs store under
``.yoi/state/runtimes/local/``, so they outlive a restart, and its workdirs are
made of the workspace's repository.

When the child ends, the runtime is ``unavailable`` with the reason (how it
ended, its last stderr line) while it is started again after a growing delay
(:class:`Restarts`); the backend serves the other runtimes meanwhile. Closing
stops it: SIGTERM, a bounded wait, SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from yoi.backend.config import LOCAL_RUNTIME_ID, LocalRuntimeSettings, RemoteRuntimeSettings
from yoi.backend.local_runtime_process import RuntimeProcess
from yoi.backend.remote import Probing, RemoteSource
from yoi.backend.sanitize import Scrubber
from yoi.backend.sources import Observation, RuntimeApi, RuntimeSource
from yoi.backend.views import Availability, RuntimeView
from yoi.cancelling import cancel_and_wait
from yoi.client import RuntimeClient
from yoi.errors import RuntimeUnavailable, YoiError
from yoi.providers.selection import ModelChoice
from yoi.runtime import ConfigBundle, ConfigBundleRef, CreateWorkerRequest, Diagnostic, WorkerDetail
from yoi.workspace import Workspace

__all__ = ["LocalLaunch", "LocalRuntime", "Restarts"]

log = logging.getLogger("yoi.backend")

TOKEN_ENV = "YOI_LOCAL_RUNTIME_TOKEN"
READY_SECONDS = 30.0
"""How long a starting child has to say where it listens."""
FIRST_START_SECONDS = 15.0
"""How long the backend's start waits for the first run before serving without it."""
_MODEL_ENV = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
}

T = TypeVar("T")


class Restarts:
    """The delay before the next start: ``first`` seconds after a run, doubling up to
    ``longest``; back to ``first`` after a run that lasted ``steady`` seconds or more."""

    def __init__(self, first: float = 0.5, longest: float = 30.0, steady: float = 60.0) -> None:
        self.first = first
        self.longest = longest
        self.steady = steady
        self._next = first

    def after(self, lasted: float) -> float:
        if lasted >= self.steady:
            self._next = self.first
        delay = self._next
        self._next = min(delay * 2, self.longest)
        return delay


SPARE_WORKTREES = 2
"""Deleted workdirs the local runtime keeps to make the next one fast, unless told: ``yoi
serve`` keeps one per ticket its orchestrator runs at once (``max_parallel``), so that at
any parallelism a new worktree is a checkout of what changed, not of every file."""


@dataclass(frozen=True, slots=True)
class LocalLaunch:
    """What to start: the command, its environment (the token in it) and where."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    token: str
    cwd: Path

    @classmethod
    def for_workspace(
        cls,
        workspace: Workspace,
        settings: LocalRuntimeSettings,
        choice: ModelChoice,
        env: Mapping[str, str],
        *,
        withheld: tuple[str, ...] = (),
        roles: Mapping[str, ModelChoice] = {},
        spares: int = SPARE_WORKTREES,
    ) -> LocalLaunch:
        """The local runtime of ``workspace``: its model is the backend's ``choice`` and each
        role in ``roles`` has its own, each with the variables that reach it; the variables in
        ``withheld`` (the backend's own and the remote runtimes' tokens) are not passed on."""
        token = secrets.token_urlsafe(32)
        argv = [
            sys.executable, "-m", "yoi", "runtime", "serve",
            "--runtime-id", LOCAL_RUNTIME_ID,
            "--display-name", f"{workspace.name} (local)",
            "--store", "fs",
            "--store-root", str(workspace.state / "runtimes" / LOCAL_RUNTIME_ID),
            "--bind", "127.0.0.1:0",
            "--token-env", TOKEN_ENV,
            "--model", choice.reference,
        ]  # fmt: skip
        if workspace.in_git:  # workdirs go where the orchestrator's do: .worktree/
            argv += ["--repository", str(workspace.root), "--worktrees", str(workspace.worktrees)]
            argv += ["--spare-worktrees", str(spares)]
        if settings.sandbox is not None:
            argv += ["--sandbox", settings.sandbox]
        for role, chosen in roles.items():
            argv += ["--role-model", f"{role}={chosen.reference}"]
        child_env = {name: value for name, value in env.items() if name not in withheld}
        for chosen in (choice, *roles.values()):
            child_env.update(_model_env(chosen, env))
        child_env[TOKEN_ENV] = token
        return cls(tuple(argv), child_env, token, workspace.root)


class LocalRuntime(RuntimeSource):
    kind = "local"

    def __init__(
        self,
        launch: LocalLaunch,
        *,
        display_name: str | None = None,
        scrubber: Scrubber | None = None,
        restarts: Restarts | None = None,
        probing: Probing | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._current: RemoteSource | None = None
        """The source of the child now running and answering; None while there is none."""
        super().__init__(LOCAL_RUNTIME_ID, display_name)
        self._launch = launch
        self._scrubber = scrubber or Scrubber()
        self._scrubber.add(launch.token)
        self._restarts = restarts or Restarts()
        self._probing = probing
        self._clock = clock
        self._problem = Diagnostic("runtime_unavailable", "the local runtime has not started yet")
        self._content: ConfigBundle | None = None
        self._process: RuntimeProcess | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._tried = asyncio.Event()

    @property
    def bundle(self) -> ConfigBundleRef | None:
        """The workspace bundle the running child holds (each run hands it over afresh)."""
        return None if self._current is None else self._current.bundle

    @bundle.setter
    def bundle(self, value: ConfigBundleRef | None) -> None:
        # Only RuntimeSource's constructor sets it here (to None, before any run).
        if self._current is not None:
            self._current.bundle = value

    # -- lifecycle -------------------------------------------------------------

    @property
    def status(self) -> Availability:
        return "unavailable" if self._current is None else self._current.status

    async def start(self, bundle: ConfigBundle) -> None:
        """Start the child; returns once its first run answers or fails, or after a while."""
        self._content = bundle
        self._supervisor = asyncio.create_task(self._supervise(), name="local runtime")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_START_SECONDS):
                await self._tried.wait()

    async def aclose(self) -> None:
        if self._supervisor is not None:
            await cancel_and_wait(self._supervisor)
        if self._process is not None:
            await self._process.stop()
        await self._detach()

    # -- the runtime API ---------------------------------------------------------

    async def describe(self) -> RuntimeView:
        current = self._current
        if current is not None:
            return replace(await current.describe(), kind=self.kind)
        return RuntimeView.of(
            self.runtime_id,
            self.kind,
            "unavailable",
            display_name=self.display_name,
            summary=None,
            diagnostics=(self._problem,),
        )

    async def call(self, operation: Callable[[RuntimeApi], Awaitable[T]]) -> T:
        return await self._running().call(operation)

    async def create_worker(self, request: CreateWorkerRequest) -> WorkerDetail:
        return await self._running().create_worker(request)

    async def subscribe(self, worker_id: str, cursor: str | None) -> Observation:
        return await self._running().subscribe(worker_id, cursor)

    def unavailable_error(self) -> YoiError:
        if self._current is not None:
            return self._current.unavailable_error()
        return RuntimeUnavailable(self._problem.message, details={"runtime_id": self.runtime_id})

    def _running(self) -> RemoteSource:
        if self._current is None:
            raise self.unavailable_error()
        return self._current

    # -- supervision -------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            started = self._clock()
            try:
                ending = await self._run()
            except RuntimeUnavailable as error:
                ending = error.message
            finally:
                await self._detach()
            delay = self._restarts.after(self._clock() - started)
            message = f"{ending}; starting it again in {delay:g} s"
            log.warning("%s", message)
            self._problem = Diagnostic("runtime_unavailable", message)
            self._tried.set()
            await asyncio.sleep(delay)

    async def _run(self) -> str:
        """One run of the child: started, joined, and watched until it ends; how it ended."""
        launch = self._launch
        self._process = process = await RuntimeProcess.spawn(
            launch.argv, launch.env, cwd=launch.cwd
        )
        url = await process.ready(READY_SECONDS)
        self._scrubber.add_url(url)
        entry = RemoteRuntimeSettings(LOCAL_RUNTIME_ID, url, display_name=self.display_name)
        client = RuntimeClient(url, token=launch.token, timeout=entry.timeout)
        source = RemoteSource(entry, client, probing=self._probing)
        self._current = source
        assert self._content is not None
        await source.start(self._content)
        self._tried.set()
        await process.wait()
        return f"the local runtime process {process.ending()}"

    async def _detach(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            await current.aclose()


def _model_env(choice: ModelChoice, env: Mapping[str, str]) -> dict[str, str]:
    """The variables that make the child's ``--model`` (or ``--role-model``) reach what the
    backend's does: its key under the provider's usual name (the config may name another), its
    configured endpoint. Choices of one provider agree on both: they come from its one table."""
    names = _MODEL_ENV.get(choice.provider)
    if names is None:
        return {}
    key_env, url_env = names
    found: dict[str, str] = {}
    key = env.get(choice.api_key_env or key_env)
    if key:
        found[key_env] = key
    if choice.base_url is not None:
        found[url_env] = choice.base_url
    return found
