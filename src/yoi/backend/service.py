"""The Backend: one workspace's runtimes, registry and Companion, opened and closed together."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from types import TracebackType

import yoi
from yoi.backend.companion import COMPANION_ID, Companion, KeepsCompanion, ModelLabel
from yoi.backend.embedded import EmbeddedSource
from yoi.backend.orchestration import Orchestration, OrchestratorOptions
from yoi.backend.policy import PassThrough, Policy
from yoi.backend.profiles import profile_for_role
from yoi.backend.registry import RuntimeRegistry
from yoi.backend.relay import Relay
from yoi.backend.sanitize import Scrubber
from yoi.backend.sources import RuntimeSource
from yoi.backend.ticket_feed import TicketFeed
from yoi.backend.views import Projection
from yoi.errors import YoiError
from yoi.runtime import ConfigBundle, CreateWorkerRequest, Runtime
from yoi.tickets import TicketStore

__all__ = ["Backend"]


class Backend:
    """Use it as an async context manager; it opens ``runtime`` and closes everything after.

    ``runtime`` is the embedded one (``backend-internal`` in ``yoi serve``);
    ``remotes`` are runtime processes, in the order they are listed (the local one first).
    ``tickets`` is the workspace's ticket store (the API answers 501 without
    one); ``ticket_author`` signs the changes whose request names nobody.
    ``workspace_id`` (``yoi.serving``) lets a client tell this workspace from another.
    ``orchestrator`` asks for the workspace's orchestrator (off without one, or without
    ``tickets``): it opens after everything else and closes first.
    """

    def __init__(
        self,
        *,
        runtime: Runtime,
        bundle: ConfigBundle,
        model: ModelLabel,
        remotes: Sequence[RuntimeSource] = (),
        workspace_name: str = "workspace",
        workspace_id: str | None = None,
        scrubber: Scrubber | None = None,
        policy: Policy | None = None,
        resume_window: float = 30.0,
        tickets: TicketStore | None = None,
        ticket_author: str = "yoi",
        orchestrator: OrchestratorOptions | None = None,
    ) -> None:
        self.runtime = runtime
        self.bundle = bundle
        self.model = model
        self.workspace_name = workspace_name
        self.workspace_id = workspace_id
        self._remotes = tuple(remotes)
        guarded = KeepsCompanion(runtime, policy or PassThrough())
        self.registry = RuntimeRegistry(policy=guarded, scrubber=scrubber)
        self.companion = Companion(runtime, self.registry, model)
        self.closing = asyncio.Event()
        """Set once the backend shuts down: relays end instead of reconnecting."""
        self.resume_window = resume_window
        self.tickets = tickets
        self.ticket_author = ticket_author
        self.ticket_feed = None if tickets is None else TicketFeed(tickets)
        self.orchestration = Orchestration(orchestrator, tickets, self.registry.scrubber)
        self._opened = False
        self._relays: weakref.WeakSet[Relay] = weakref.WeakSet()

    async def __aenter__(self) -> Backend:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the embedded runtime, reach out to the remote ones, and ensure the Companion.

        A remote runtime that is down does not hold this up for longer than its timeout.
        """
        try:
            await self.runtime.open()
            self._opened = True
            embedded = EmbeddedSource(self.runtime)
            self.registry.add(embedded)
            for remote in self._remotes:
                self.registry.add(remote)
            await embedded.start(self.bundle)
            await asyncio.gather(*(remote.start(self.bundle) for remote in self._remotes))
            await self.companion.ensure()
            if self.tickets is not None:
                await asyncio.to_thread(self.tickets.watch)
            if self.ticket_feed is not None:
                await self.ticket_feed.start()
            await self.orchestration.open(
                self.registry, self.ticket_feed, intake_runtime=self.runtime.runtime_id
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close everything; a second call does nothing more."""
        if self.closing.is_set():
            return
        self.closing.set()
        await self.orchestration.aclose()
        await asyncio.gather(*(relay.aclose() for relay in tuple(self._relays)))
        opened = {id(source) for source in self.registry.sources}
        unopened = [remote for remote in self._remotes if id(remote) not in opened]
        await asyncio.gather(*(source.aclose() for source in (*self.registry.sources, *unopened)))
        if self.ticket_feed is not None:
            await self.ticket_feed.aclose()
        if self.tickets is not None:
            self.tickets.close()
        if self._opened:
            await self.runtime.close()

    def workspace(self) -> Projection:
        return {
            "name": self.workspace_name,
            "id": self.workspace_id,
            "version": yoi.__version__,
            "model": self.model.reference,
            "offline": self.model.offline,
            "companion": {"runtime_id": self.runtime.runtime_id, "worker_id": COMPANION_ID},
            "profiles": [
                {"name": profile.name, "description": profile.description, "tools": profile.tools}
                for profile in self.bundle.profiles
            ],
        }

    async def create_worker(self, runtime_id: str, request: CreateWorkerRequest) -> Projection:
        """Create a worker; one in a role, naming no profile, gets the role's profile if the
        workspace has one."""
        return await self.registry.create_worker(runtime_id, profile_for_role(request, self.bundle))

    async def relay(self, runtime_id: str, worker_id: str, cursor: str | None) -> Relay:
        """An opened relay of the worker's events for one client."""
        source = await self.registry.admit_observation(runtime_id, worker_id)
        relay = Relay(
            source,
            worker_id,
            cursor=cursor,
            policy=self.registry.policy,
            scrubber=self.registry.scrubber,
            closing=self.closing,
            resume_window=self.resume_window,
        )
        try:
            await relay.open()
        except YoiError as error:
            await relay.aclose()
            raise self.registry.scrubber.error(error) from None
        self._relays.add(relay)
        return relay
