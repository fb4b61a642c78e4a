"""The orchestrator inside ``yoi serve``: its runtimes through the registry, its wake-ups from
the ticket feed, and the answers the API gives about it, on or off.

:class:`RegistryHosts` is the :class:`~yoi.orchestrator.hosts.Hosts` the orchestrator drives
workers through: every call goes to the runtime's source, so the local runtime is reached
wherever its latest process listens and failures read in the backend's vocabulary.
:class:`Orchestration` is the backend's side of the orchestrator: it opens it after the
runtimes and the ticket feed are up (or leaves it off, and says why), wakes it on every
ticket change, and answers status, explain, stop and retry as browser-safe JSON.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import anyio.to_thread

from yoi.backend.config import LOCAL_RUNTIME_ID
from yoi.backend.markdown import render_markdown
from yoi.backend.registry import RuntimeRegistry, with_bundle
from yoi.backend.sanitize import Scrubber
from yoi.backend.sources import Observation, RuntimeSource
from yoi.backend.ticket_feed import TicketFeed
from yoi.cancelling import cancel_and_wait
from yoi.errors import TicketNotFound, UnsupportedOperation, YoiError
from yoi.orchestrator.hosts import WorkerHost
from yoi.orchestrator.policy import explain
from yoi.orchestrator.policy_inputs import PolicyConfig, Snapshot
from yoi.orchestrator.roles import Roles
from yoi.orchestrator.run_record import Run
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.views import OrchestratorStatus, Problem, explanation_view, run_view
from yoi.runtime import (
    CancelAck,
    CreateWorkerRequest,
    Event,
    EventPage,
    Input,
    InputAck,
    StopAck,
    TranscriptPage,
    WorkerDetail,
)
from yoi.tickets import TicketStore
from yoi.tickets.ids import ticket_id as canonical_id
from yoi.tickets.inputs import line
from yoi.tools.sandbox import Sandbox, SandboxMode

__all__ = [
    "NO_MODEL",
    "Orchestration",
    "OrchestratorOptions",
    "RegistryHosts",
    "SourceHost",
    "explain_off",
    "status_off",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

NO_MODEL = (
    "No model is configured, so queued tickets wait: set OPENAI_API_KEY or "
    "ANTHROPIC_API_KEY, or pass --model."
)
"""What status says when the backend runs on the offline scripted model."""

_NOT_GIT = "The workspace is not a git repository, so the orchestrator is off: git init there."


# -- the runtimes, through the registry -------------------------------------------------------


class SourceHost:
    """One runtime source as a :class:`~yoi.orchestrator.hosts.WorkerHost`."""

    def __init__(self, source: RuntimeSource) -> None:
        self._source = source

    async def create_worker(self, request: CreateWorkerRequest | None = None) -> WorkerDetail:
        source = self._source
        return await source.create_worker(with_bundle(source, request or CreateWorkerRequest()))

    async def get_worker(self, worker_id: str) -> WorkerDetail:
        return await self._source.call(lambda api: api.get_worker(worker_id))

    async def send_input(self, worker_id: str, item: Input | str) -> InputAck:
        return await self._source.call(lambda api: api.send_input(worker_id, item))

    async def stop_worker(self, worker_id: str, reason: str | None = None) -> StopAck:
        return await self._source.call(lambda api: api.stop_worker(worker_id, reason))

    async def cancel_worker(self, worker_id: str) -> CancelAck:
        return await self._source.call(lambda api: api.cancel_worker(worker_id))

    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage:
        return await self._source.call(lambda api: api.transcript(worker_id, start, limit))

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage:
        return await self._source.call(lambda api: api.events(worker_id, after=after, limit=limit))

    async def subscribe(self, worker_id: str, cursor: str | None = None) -> _Stream:
        # The source's own stream, not the runtime's: a remote one's failures are translated
        # (and mark the runtime down) as they are for the relays.
        return _Stream(await self._source.subscribe(worker_id, cursor))

    async def delete_workdir(self, workdir_id: str, *, force: bool = False) -> Mapping[str, object]:
        return await self._source.call(lambda api: api.delete_workdir(workdir_id, force=force))


class _Stream:
    """An observation as the async context manager the orchestrator reads events from."""

    def __init__(self, observation: Observation) -> None:
        self._observation = observation

    async def __aenter__(self) -> _Stream:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._observation.aclose()

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Event:
        return await self._observation.__anext__()


class RegistryHosts:
    """The registry's runtimes, by id, for the orchestrator."""

    def __init__(self, registry: RuntimeRegistry) -> None:
        self._registry = registry

    def host(self, runtime_id: str) -> WorkerHost:
        return SourceHost(self._registry.source(runtime_id))


# -- the orchestrator in the backend -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrchestratorOptions:
    """What ``yoi serve`` asks of its orchestrator. ``model_problem`` says why no real model
    can do the work (queued tickets then wait); ``sandbox`` confines validation commands."""

    root: Path
    settings: OrchestratorSettings = field(default_factory=OrchestratorSettings)
    model_problem: str | None = None
    sandbox: SandboxMode = SandboxMode.BWRAP


class Orchestration:
    """The backend's orchestrator, or the reason it has none; its answers scrubbed."""

    def __init__(
        self,
        options: OrchestratorOptions | None,
        tickets: TicketStore | None,
        scrubber: Scrubber,
    ) -> None:
        self.options = options
        self.orchestrator: Orchestrator | None = None
        self._tickets = tickets
        self._scrubber = scrubber
        self._problem: Problem | None = None
        self._wakes: asyncio.Task[None] | None = None

    @property
    def settings(self) -> OrchestratorSettings:
        return OrchestratorSettings() if self.options is None else self.options.settings

    async def open(
        self, registry: RuntimeRegistry, feed: TicketFeed | None, *, intake_runtime: str
    ) -> None:
        """Open the orchestrator when the workspace can have one; a failure to open leaves
        it off with the reason in status, and the backend serves on."""
        options, tickets = self.options, self._tickets
        if options is None or tickets is None or not options.settings.enabled:
            return
        if not (options.root / ".git").exists():
            self._problem = Problem("not_a_repository", _NOT_GIT)
            return
        orchestrator = Orchestrator(
            root=options.root,
            tickets=tickets,
            hosts=RegistryHosts(registry),
            settings=options.settings,
            roles=_roles(intake_runtime),
            model_problem=options.model_problem,
            sandbox=await Sandbox.probe(options.sandbox),
        )
        try:
            await orchestrator.open()
        except YoiError as error:
            await orchestrator.aclose()
            clean = self._scrubber.error(error)
            log.warning("the orchestrator is off: %s", clean.message)
            self._problem = Problem(clean.code, clean.message)
            return
        self.orchestrator = orchestrator
        if feed is not None:
            self._wakes = asyncio.create_task(_wake_on(feed, orchestrator), name="yoi-wakes")

    async def aclose(self) -> None:
        wakes, self._wakes = self._wakes, None
        if wakes is not None:
            await cancel_and_wait(wakes)
        orchestrator, self.orchestrator = self.orchestrator, None
        if orchestrator is not None:
            await orchestrator.aclose()

    # -- what the API answers ---------------------------------------------------------------

    async def status(self) -> dict[str, object]:
        orchestrator = self.orchestrator
        if orchestrator is None:
            problems = () if self._problem is None else (self._problem,)
            return self._clean(status_off(self.settings, problems))
        return await self._safely(lambda: _rendered(orchestrator.status().to_dict()))

    async def explain(self, ticket_id: str) -> dict[str, object]:
        """Why the ticket has not started: the orchestrator's view, or the policy's over the
        store when the orchestrator is off."""
        orchestrator = self.orchestrator
        if orchestrator is not None:
            return await self._safely(lambda: explanation_view(orchestrator.explain(ticket_id)))
        tickets = self._store()
        settings = self.settings
        return await self._safely(lambda: explain_off(tickets, ticket_id, settings))

    async def stop(self, ticket_id: str, *, by: str) -> dict[str, object]:
        """Stop the ticket's run; ``unsupported_operation`` when the orchestrator is off."""
        return await self._command(ticket_id, by, lambda o, wanted: o.stop(wanted, by=by))

    async def retry(self, ticket_id: str, *, by: str) -> dict[str, object]:
        """Start the ticket's stopped or failed run again."""
        return await self._command(ticket_id, by, lambda o, wanted: o.retry(wanted, by=by))

    async def gate(
        self, ticket_id: str, gate: str, decision: str, *, by: str, note: str | None
    ) -> dict[str, object]:
        """A person's decision at the gate the ticket's run waits at."""

        def decide(o: Orchestrator, wanted: str) -> Awaitable[Run]:
            return o.gate(wanted, gate, decision, by=by, note=note)

        return await self._command(ticket_id, by, decide)

    # -- helpers ----------------------------------------------------------------------------

    async def _command(
        self,
        ticket_id: str,
        by: str,
        command: Callable[[Orchestrator, str], Awaitable[Run]],
    ) -> dict[str, object]:
        try:
            wanted = canonical_id(ticket_id)
            line(by, "author")
            orchestrator = self.orchestrator
            if orchestrator is None:
                raise UnsupportedOperation("the orchestrator is off in this backend")
            title = await anyio.to_thread.run_sync(self._title, wanted)
            run = await command(orchestrator, wanted)
        except YoiError as error:
            raise self._scrubber.error(error) from None
        view = run_view(run, title=title, runtime_id=orchestrator.roles.work_runtime)
        return self._clean(view)

    def _title(self, ticket_id: str) -> str:
        """The ticket's title; ``ticket_not_found`` before a run is looked for."""
        meta = self._store().catalog().metas.get(ticket_id)
        if meta is None:
            raise TicketNotFound(
                f"there is no ticket {ticket_id}", details={"ticket_id": ticket_id}
            )
        return meta.title

    def _store(self) -> TicketStore:
        if self._tickets is None:
            raise UnsupportedOperation("this backend has no ticket store")
        return self._tickets

    async def _safely(self, answer: Callable[[], dict[str, object]]) -> dict[str, object]:
        """``answer`` in a worker thread (it reads ticket files); its errors scrubbed."""
        try:
            found = await anyio.to_thread.run_sync(answer)
        except YoiError as error:
            raise self._scrubber.error(error) from None
        return self._clean(found)

    def _clean(self, body: dict[str, object]) -> dict[str, object]:
        cleaned = self._scrubber.value(body)
        assert isinstance(cleaned, dict)
        return cleaned


def _rendered(status: dict[str, object]) -> dict[str, object]:
    """The status with each gate's dossier also as HTML, for the console to show."""
    runs = status.get("runs")
    for run in runs if isinstance(runs, list) else []:
        gate = run.get("gate") if isinstance(run, dict) else None
        if isinstance(gate, dict) and isinstance(gate.get("dossier"), str):
            gate["dossier_html"] = render_markdown(gate["dossier"])
    return status


def status_off(
    settings: OrchestratorSettings, problems: tuple[Problem, ...] = ()
) -> dict[str, object]:
    """Status of a backend without an orchestrator: off, nothing running or waiting."""
    status = OrchestratorStatus(
        enabled=False,
        target_branch=settings.target_branch,
        max_parallel=settings.max_parallel,
        problems=problems,
    )
    return status.to_dict()


def explain_off(
    tickets: TicketStore, ticket_id: str, settings: OrchestratorSettings
) -> dict[str, object]:
    """Why a ticket would wait, by the policy over the store alone (no run is in flight)."""
    snapshot = Snapshot.of(
        tickets.catalog(), plans=tickets.plans(), config=PolicyConfig.of(settings)
    )
    return explanation_view(explain(snapshot, ticket_id))


def _roles(intake_runtime: str) -> Roles:
    """The intake beside the backend, coder and reviewer on the local runtime, each with the
    workspace's profile of its name (a person may have overridden it)."""
    return Roles(
        intake_runtime=intake_runtime,
        work_runtime=LOCAL_RUNTIME_ID,
        intake_profile="orchestrator",
        coder_profile="coder",
        reviewer_profile="reviewer",
    )


async def _wake_on(feed: TicketFeed, orchestrator: Orchestrator) -> None:
    """Wake the orchestrator on every ticket change, until the feed closes."""
    seen = feed.revision
    while (change := await feed.wait(seen)) is not None:
        seen = change.revision
        orchestrator.wake()
