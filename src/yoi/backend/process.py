"""``yoi serve`` as a process: build the workspace's backend, listen, shut down cleanly.

The embedded runtime ``backend-internal`` keeps its workers in an fs store
under ``.yoi/state/runtime``; the local runtime ``local`` is a ``yoi runtime
serve`` child it supervises (:mod:`yoi.backend.local_runtime`; off with
``[local_runtime] enabled = false``); the remote runtimes come from
``.yoi/config.toml``, their tokens from the environment. Shutdown on SIGTERM
or SIGINT: stop accepting, end every relay (close 1001), stop the local
runtime, close the remote clients and the embedded runtime (runs in flight
end ``cancelled``), then let the server finish its open connections.

While it listens, ``.yoi/state/backend.json`` (:mod:`yoi.serving`) tells
the workspace's clients where; before, it says what a person should know
about the workspace (created now, not in git, ``.gitignore`` uncommitted).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from starlette.types import ASGIApp

from yoi.backend.app import create_backend_app
from yoi.backend.companion import ModelLabel
from yoi.backend.config import EMBEDDED_RUNTIME_ID, BackendSettings
from yoi.backend.local_runtime import LocalLaunch, LocalRuntime
from yoi.backend.orchestration import NO_MODEL, OrchestratorOptions
from yoi.backend.profiles import workspace_bundle
from yoi.backend.remote import RemoteSource
from yoi.backend.sanitize import Scrubber
from yoi.backend.service import Backend
from yoi.backend.sources import RuntimeSource
from yoi.backend.workspace_tools import reading_tools, workspace_tools
from yoi.client import RuntimeClient
from yoi.engine.model import Model
from yoi.errors import AddressInUse, InvalidRequest, StoreLocked
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DEMO_NOTICE
from yoi.providers.selection import (
    ROLES,
    ModelChoice,
    ModelSettings,
    aclose_model,
    build_model,
    select_model,
    select_role_models,
)
from yoi.runtime import FsStore, Runtime
from yoi.server.listen import Listener, listening
from yoi.server.settings import is_loopback, parse_bind
from yoi.serving import (
    ServeRecord,
    ensure_workspace_id,
    read_record,
    remove_record,
    write_record,
)
from yoi.tickets import TicketStore
from yoi.tickets.author import default_author
from yoi.tools.sandbox import SandboxMode
from yoi.workspace import Workspace

__all__ = ["ServeOptions", "serve_backend"]

_PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``yoi serve`` was asked for; None means "from config, else the default"."""

    workspace: Workspace
    listen: str | None = None
    model: str | None = None
    console: Path | None = None
    """The web console's folder, served at ``/``; None serves the API alone."""


async def serve_backend(
    options: ServeOptions,
    env: Mapping[str, str],
    out: TextIO,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set, or until SIGTERM or SIGINT when no event is given."""
    workspace = options.workspace
    created = workspace.ensure()
    settings = BackendSettings.from_toml(workspace.config)
    orchestrator = OrchestratorSettings.from_toml(workspace.config)
    host, port = parse_bind(options.listen or settings.listen)
    token = settings.token(env)
    if token is None and not is_loopback(host):
        raise InvalidRequest(
            f"refusing to listen on {host} without a token: anyone who can reach it could "
            f"drive every runtime of this workspace; set {settings.token_env}",
            details={"field": "listen"},
        )
    notes = await asyncio.to_thread(_workspace_notes, workspace, created=created)
    models = ModelSettings.from_toml(workspace.config)
    choice = select_model(options.model, models, env)
    roles = select_role_models(models, env)
    model = build_model(choice, env)
    role_models: dict[str, Model] = {}
    try:
        for role, chosen in roles.items():
            role_models[role] = build_model(chosen, env)
        wanted = _orchestrator(workspace, settings, orchestrator, choice, roles)
        backend = _backend(
            workspace,
            settings,
            choice,
            env=env,
            model=model,
            orchestrator=wanted,
            roles=roles,
            role_models=role_models,
        )
        backend.registry.scrubber.add(token)
        stop = stop or _signalled()
        await _open(backend, workspace)
        _say(out, notes)
        try:
            app = create_backend_app(backend, token=token, console=options.console, bind_host=host)
            async with (
                _listening(app, host, port) as server,
                _recorded(workspace, _record(server, backend)),
            ):
                _say(out, [*_announce(choice, roles), f"listening on {server.url}"])
                await stop.wait()
                server.stop_accepting()
                await backend.close()
        finally:
            await backend.close()
    finally:
        for built in (model, *role_models.values()):
            await aclose_model(built)


async def _open(backend: Backend, workspace: Workspace) -> None:
    """Open ``backend``; a store locked by another process is another ``yoi serve``."""
    try:
        await backend.open()
    except StoreLocked:
        record = read_record(workspace)
        where = "" if record is None else f" (pid {record.pid}, {record.url})"
        raise StoreLocked(
            f"another `yoi serve`{where} already serves this workspace: stop it first, or "
            "talk to it (yoi chat, yoi worker list)"
        ) from None


@asynccontextmanager
async def _listening(app: ASGIApp, host: str, port: int) -> AsyncIterator[Listener]:
    try:
        async with listening(app, host, port) as server:
            yield server
    except AddressInUse as error:
        raise AddressInUse(
            f"{error.message}: another program listens there; pass --listen 127.0.0.1:0 "
            "to pick a free port (clients in this workspace find it)",
            details=error.details,
        ) from None


@asynccontextmanager
async def _recorded(workspace: Workspace, record: ServeRecord) -> AsyncIterator[None]:
    """Tell clients where this backend listens, until it stops (or fails)."""
    write_record(workspace, record)
    try:
        yield
    finally:
        remove_record(workspace, record.pid)


def _record(server: Listener, backend: Backend) -> ServeRecord:
    host = _WILDCARDS.get(server.host, server.host)
    url = f"http://[{host}]:{server.port}" if ":" in host else f"http://{host}:{server.port}"
    started = datetime.now(UTC).isoformat(timespec="seconds")
    assert backend.workspace_id is not None
    return ServeRecord(url, os.getpid(), backend.workspace_id, started)


def _workspace_notes(workspace: Workspace, *, created: bool) -> list[str]:
    """What a person should know about the workspace before it is served."""
    notes = []
    if created:
        notes.append(f"created the workspace {workspace.dot}")
    if created and not workspace.in_git:
        notes.append(
            f"{workspace.root} is not in a git repository, so its tickets are not versioned "
            "(git init there, or pass --workspace DIR)"
        )
    if workspace.ignore_file_tracked() is False:
        notes.append(
            ".yoi/.gitignore (it keeps .yoi/state/ out of git) is not committed: "
            "git add .yoi/.gitignore && git commit -m 'yoi workspace'"
        )
    return notes


def _say(out: TextIO, lines: list[str]) -> None:
    out.write("".join(f"{line}\n" for line in lines))
    out.flush()


def _backend(
    workspace: Workspace,
    settings: BackendSettings,
    choice: ModelChoice,
    *,
    env: Mapping[str, str],
    model: Model,
    orchestrator: OrchestratorOptions,
    roles: Mapping[str, ModelChoice],
    role_models: Mapping[str, Model],
) -> Backend:
    scrubber = Scrubber([str(workspace.root), str(Path.home())])
    scrubber.add(*(env.get(name) for name in _PROVIDER_KEYS))
    for chosen in (choice, *roles.values()):
        if chosen.api_key_env is not None:
            scrubber.add(env.get(chosen.api_key_env))
        if chosen.base_url is not None:
            scrubber.add_url(chosen.base_url)
    remotes: list[RuntimeSource] = []
    if settings.local_runtime.enabled:
        spares = orchestrator.settings.max_parallel  # a spare per ticket run at once
        remotes.append(
            _local_runtime(workspace, settings, choice, env, scrubber, roles=roles, spares=spares)
        )
    for entry in settings.runtimes:
        token = entry.token(env)
        scrubber.add_url(entry.url)
        scrubber.add(token)
        client = RuntimeClient(entry.url, token=token, timeout=entry.timeout)
        remotes.append(RemoteSource(entry, client))
    tickets = _ticket_store(workspace)
    ticket_tools = workspace_tools(tickets)
    # The embedded runtime holds no workdirs: no file, shell or git tool runs in this process.
    # Its Companion works on the tickets, in-process, and never queues one.
    runtime = Runtime(
        runtime_id=EMBEDDED_RUNTIME_ID,
        display_name=f"{workspace.name} (embedded)",
        store=FsStore(workspace.state / "runtime"),
        model=model,
        role_models=role_models,
        workspace_tools=ticket_tools,
        workspace_reading=reading_tools(ticket_tools),
    )
    return Backend(
        runtime=runtime,
        bundle=workspace_bundle(workspace),
        model=ModelLabel(choice.reference, choice.offline),
        remotes=remotes,
        workspace_name=workspace.name,
        workspace_id=ensure_workspace_id(workspace),
        scrubber=scrubber,
        tickets=tickets,
        ticket_author=default_author(workspace.root),
        orchestrator=orchestrator,
    )


def _orchestrator(
    workspace: Workspace,
    settings: BackendSettings,
    orchestrator: OrchestratorSettings,
    choice: ModelChoice,
    roles: Mapping[str, ModelChoice],
) -> OrchestratorOptions:
    """The workspace's orchestrator: while a role of it would answer on the offline model it
    opens but starts nothing; its validation commands are confined as the local runtime's
    ``bash`` is."""
    offline = any(roles.get(role, choice).offline for role in ROLES)
    return OrchestratorOptions(
        root=workspace.root,
        settings=orchestrator,
        model_problem=NO_MODEL if offline else None,
        sandbox=SandboxMode(settings.local_runtime.sandbox or SandboxMode.BWRAP),
    )


def _local_runtime(
    workspace: Workspace,
    settings: BackendSettings,
    choice: ModelChoice,
    env: Mapping[str, str],
    scrubber: Scrubber,
    *,
    roles: Mapping[str, ModelChoice],
    spares: int,
) -> LocalRuntime:
    """The workspace's own runtime process, on the default model and each role's own; it is
    not handed this backend's secrets."""
    tokens = tuple(entry.token_env for entry in settings.runtimes if entry.token_env)
    withheld = (settings.token_env, *tokens)
    launch = LocalLaunch.for_workspace(
        workspace,
        settings.local_runtime,
        choice,
        env,
        withheld=withheld,
        roles=roles,
        spares=spares,
    )
    return LocalRuntime(launch, display_name=f"{workspace.name} (local)", scrubber=scrubber)


def _ticket_store(workspace: Workspace) -> TicketStore:
    """The workspace's tickets, their folder made and its lock file and the folders of
    unfinished new tickets kept out of git (workspaces made before that are brought up to date)."""
    store = TicketStore.for_workspace(workspace.root)
    store.init()
    return store


def _announce(choice: ModelChoice, roles: Mapping[str, ModelChoice]) -> list[str]:
    said = [f"model for the {role} role: {chosen.reference}" for role, chosen in roles.items()]
    if choice.offline:
        return [
            "model: the offline scripted model (no model configured: set OPENAI_API_KEY or "
            "ANTHROPIC_API_KEY, or pass --model provider:model)",
            *said,
        ]
    if choice.demo:
        return [f"model: {choice.reference} (a demo: {DEMO_NOTICE})", *said]
    return [f"model: {choice.reference}", *said]


def _signalled() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
