"""What every ticket's run shares: the state, the tickets, the runtimes, git and the config.

A :class:`Crew` is made once by the orchestrator and handed to each run's steps; its
:meth:`step` runs one side effect keyed by an operation id (see
:meth:`~yoi.orchestrator.state.OrchestratorState.once`), and :meth:`save` records a run and
tells observers that something changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from yoi.orchestrator.failpoints import Failpoints
from yoi.orchestrator.hosts import Hosts, WorkerHost
from yoi.orchestrator.integration import Integration
from yoi.orchestrator.operations import OperationKey, OperationStatus
from yoi.orchestrator.records import RESUMING, TicketRecorder
from yoi.orchestrator.roles import Roles
from yoi.orchestrator.run_record import Run
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState
from yoi.tickets import TicketStore
from yoi.tools.sandbox import Sandbox

__all__ = ["Crew"]

T = TypeVar("T")


@dataclass(slots=True)
class Crew:
    state: OrchestratorState
    tickets: TicketStore
    recorder: TicketRecorder
    hosts: Hosts
    roles: Roles
    settings: OrchestratorSettings
    integration: Integration
    sandbox: Sandbox | None
    clock: Callable[[], float] = time.time
    merge_queue: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One ticket at a time merges and validates."""
    changes: asyncio.Condition = field(default_factory=asyncio.Condition)
    failpoints: Failpoints = field(default_factory=Failpoints.from_environment)
    """Where a test has this process die (see :mod:`~yoi.orchestrator.failpoints`)."""

    @property
    def worktrees(self) -> Path:
        return self.integration.folder

    def intake_host(self) -> WorkerHost:
        return self.hosts.host(self.roles.intake_runtime)

    def work_host(self) -> WorkerHost:
        return self.hosts.host(self.roles.work_runtime)

    async def step(
        self,
        run: Run,
        kind: str,
        effect: Callable[[], Awaitable[dict[str, object]]],
        *,
        round_: int = 0,
    ) -> dict[str, object]:
        """The result of the run's step ``kind`` (in ``round_``): the recorded one when it
        is done, else ``effect``'s, recorded."""
        key = OperationKey(run.ticket_id, run.attempt, kind, round_)
        begun = self.state.get(key)
        if begun is not None and begun.status is OperationStatus.STARTED:
            effect = _resuming(effect)
        points = self.failpoints
        if not points.armed:
            return await self.state.once(key, effect)

        async def effect_then_point() -> dict[str, object]:
            result = await effect()
            points.reach(f"{kind}.effect")
            return result

        result = await self.state.once(key, effect_then_point)
        points.reach(f"{kind}.done")
        return result

    def done(self, run: Run, kind: str, round_: int = 0) -> dict[str, object] | None:
        """The result of a step that is done, or ``None``."""
        found = self.state.get(OperationKey(run.ticket_id, run.attempt, kind, round_))
        if found is None or found.status is not OperationStatus.DONE:
            return None
        return found.result

    def rounds(self, run: Run, kind: str) -> list[int]:
        """The rounds of step ``kind`` begun in this attempt, in order."""
        seen = {
            step.key.round
            for step in self.state.steps(run.ticket_id)
            if step.key.attempt == run.attempt and step.key.kind == kind
        }
        return sorted(seen)

    def earlier(self, ticket_id: str, kind: str) -> dict[str, object] | None:
        """The last done result of step ``kind`` over all of the ticket's attempts."""
        found: dict[str, object] | None = None
        for step in self.state.steps(ticket_id):
            if step.key.kind == kind and step.status is OperationStatus.DONE:
                found = step.result
        return found

    async def save(self, run: Run) -> Run:
        await asyncio.to_thread(self.state.save, run)
        async with self.changes:
            self.changes.notify_all()
        return run

    async def record(self, call: Callable[[], T]) -> T:
        """Write on a ticket (file I/O under the store's lock) off the event loop."""
        return await asyncio.to_thread(call)


def _resuming(
    effect: Callable[[], Awaitable[dict[str, object]]],
) -> Callable[[], Awaitable[dict[str, object]]]:
    """``effect`` run again after a crash cut it short: its records are not written twice."""

    async def again() -> dict[str, object]:
        token = RESUMING.set(True)
        try:
            return await effect()
        finally:
            RESUMING.reset(token)

    return again
