"""The orchestrator as a service: opened inside ``yoi serve`` (or any program), it takes
queued tickets to ``done`` and answers what it is doing.

::

    async with Orchestrator(root=root, tickets=store, hosts=hosts, settings=settings) as o:
        o.wake()                          # a ticket changed: pass again soon
        o.status().to_dict()              # runs, phases, why queued tickets wait
        o.explain("01K...")               # one ticket's reason, structured
        await o.stop("01K...", by="ada")  # its workers idle, the worktree kept
        await o.retry("01K...", by="ada") # a stopped or failed run starts again

One pass runs at a time (:mod:`~yoi.orchestrator.passes`); each ticket's run is a task
(:mod:`~yoi.orchestrator.steps`) whose side effects are keyed by operation ids in the
state, so a restart picks runs up where they were and repeats nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from yoi.errors import (
    CursorExpired,
    InvalidCursor,
    InvalidRequest,
    InvalidTransition,
    RuntimeNotFound,
)
from yoi.orchestrator.hosts import Hosts
from yoi.orchestrator.integration import Integration
from yoi.orchestrator.passes import Passes
from yoi.orchestrator.policy import explain as explain_ticket
from yoi.orchestrator.policy_decision import Explanation, ended_run
from yoi.orchestrator.roles import Roles
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState, hold_state, state_path
from yoi.orchestrator.transitions import Position, Transition, decode_cursor
from yoi.orchestrator.usage import usage_view
from yoi.orchestrator.views import OrchestratorStatus, Problem, Waiting, run_view
from yoi.runtime.stores.fs.files import RootLock
from yoi.tickets import State, TicketStore
from yoi.tickets.ids import ticket_id as canonical_id
from yoi.tools.sandbox import Sandbox

__all__ = ["Orchestrator"]

log = logging.getLogger(__name__)


class Orchestrator:
    """Use it as an async context manager, or :meth:`open` and :meth:`aclose` it.

    ``root`` is the repository (the workspace root); ``hosts`` reaches the runtimes named by
    ``roles`` (the intake on one, coder and reviewer on another); ``model_problem`` says why
    no real model can do the work (then queued tickets wait, and status says so);
    ``sandbox`` confines the validation commands.
    """

    def __init__(
        self,
        *,
        root: Path,
        tickets: TicketStore,
        hosts: Hosts,
        settings: OrchestratorSettings | None = None,
        roles: Roles | None = None,
        model_problem: str | None = None,
        sandbox: Sandbox | None = None,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self.tickets = tickets
        self.settings = settings or OrchestratorSettings()
        self.roles = roles or Roles()
        self._model_problem = model_problem
        self._state_file = state_file or state_path(root)
        self._clock = clock
        self._hosts = hosts
        self._sandbox = sandbox
        self._state: OrchestratorState | None = None
        self._lock: RootLock | None = None
        self._passes: Passes | None = None
        self._problems: tuple[Problem, ...] = ()

    async def __aenter__(self) -> Orchestrator:
        await self.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        """Open the state, check the integration branch, sweep orphans, pick up the runs in
        flight and start passing. A busy integration branch is a problem status shows, not
        a failure: nothing starts until a person frees it and the orchestrator is opened
        again."""
        self._lock = await asyncio.to_thread(hold_state, self._state_file)
        try:
            self._state = await asyncio.to_thread(OrchestratorState.open, self._state_file)
        except BaseException:
            self._lock.release()
            self._lock = None
            raise
        integration = Integration(self.root, branch=self.settings.target_branch)
        self._passes = Passes(
            state=self._state,
            tickets=self.tickets,
            hosts=self._hosts,
            settings=self.settings,
            roles=self.roles,
            integration=integration,
            sandbox=self._sandbox,
            clock=self._clock,
        )
        problems = [] if self._model_problem is None else [Problem("no_model", self._model_problem)]
        problems += self._missing_runtimes()
        problems += await self._passes.prepare()
        self._problems = tuple(problems)
        if self.settings.enabled and not self._problems:
            self._passes.start()

    async def aclose(self) -> None:
        """Stop passing and let go of the runs' tasks (their workers go on; a restart picks
        the runs up again). A second call does nothing."""
        passes, self._passes = self._passes, None
        if passes is not None:
            await passes.aclose()
        state, self._state = self._state, None
        if state is not None:
            state.close()
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    # -- what it does ------------------------------------------------------------

    def wake(self) -> None:
        """Something changed (a ticket, a run): pass again soon. Never blocks."""
        if self._passes is not None:
            self._passes.wake()

    async def settled(self) -> None:
        """Wait until a pass found nothing to do and no run is in flight (tests and the demo
        bound it with ``asyncio.timeout``)."""
        await self._require().settled()

    async def changed(self) -> None:
        """Wait for the next change of any run (a phase, a round); for observers."""
        await self._require().changed()

    # -- what it answers ------------------------------------------------------------

    def status(self) -> OrchestratorStatus:
        """Every run with its phase, the queued tickets that wait and why, and problems."""
        state = self._state_or_none()
        metas = self.tickets.catalog().metas
        views = (
            ()
            if state is None
            else tuple(
                {
                    **run_view(
                        run,
                        title=metas[run.ticket_id].title if run.ticket_id in metas else "",
                        runtime_id=self.roles.work_runtime,
                    ),
                    "usage": usage_view(state, run.ticket_id),
                    "reason": None if self._passes is None else self._passes.reason(run),
                    "gate": None if self._passes is None else self._passes.gate_view(run),
                }
                for run in state.runs()
            )
        )
        waiting: tuple[Waiting, ...] = ()
        if self._passes is not None:
            waiting = tuple(self._passes.waiting(self._problems))
        return OrchestratorStatus(
            enabled=self.settings.enabled,
            target_branch=self.settings.target_branch,
            max_parallel=self.settings.max_parallel,
            runs=views,
            waiting=waiting,
            problems=self._problems,
        )

    def explain(self, ticket_id: str) -> Explanation:
        """Why ``ticket_id`` has not started (or what its run is doing), as a pass sees it;
        for a ticket whose run ended without ``done``, how it ended and what a person may do."""
        found = explain_ticket(self._require().snapshot(), ticket_id)
        run = self._require_state().run(found.ticket_id)
        if run is None or not run.phase.over or run.phase is Phase.DONE:
            return found
        if found.state not in (State.INPROGRESS, State.QUEUED):
            return found
        return ended_run(found, run.phase, run.stop_reason)

    def run(self, ticket_id: str) -> Run | None:
        state = self._state_or_none()
        return None if state is None else state.run(canonical_id(ticket_id))

    async def stop(self, ticket_id: str, *, by: str) -> Run:
        """Stop the ticket's run: its workers are cancelled and stopped, its worktree kept,
        and the ticket says who stopped it. ``invalid_transition`` for a run that is over;
        ``invalid_request`` for a ticket without a run."""
        return await self._require().stop(self._active(ticket_id), by=by)

    async def gate(
        self, ticket_id: str, gate: str, decision: str, *, by: str, note: str | None = None
    ) -> Run:
        """A person approves or rejects the run parked at ``gate`` (``plan`` or ``merge``):
        approved, it goes on; rejected, it stops and its ticket returns to planning.
        ``invalid_transition`` when the run does not wait at that gate."""
        run = self._active(ticket_id)
        return await self._require().gate(run, gate, decision, by=by, note=note)

    def position(self) -> Position:
        """The newest transition's place: a stream resumes after its cursor."""
        state = self._require_state()
        return Position(state.epoch(), state.transition_bounds()[1])

    def cursor(self) -> str:
        """The cursor of the newest transition."""
        return self.position().cursor

    def transitions(self, after: str | None = None, *, limit: int = 500) -> list[Transition]:
        """The runs' transitions after ``after`` (from the oldest kept when ``None``), oldest
        first; ``cursor_expired`` when the log no longer reaches back there, ``invalid_cursor``
        for a malformed cursor, another state's, or one from the future."""
        state = self._require_state()
        low, high = state.transition_bounds()
        if after is None:
            return state.transitions(low, limit=limit)
        seq = decode_cursor(after, state.epoch())
        if seq > high:
            raise InvalidCursor("the cursor is ahead of the orchestrator's transitions")
        if seq < low:
            raise CursorExpired(
                "the transitions after this cursor are no longer kept: resync from a snapshot"
            )
        return state.transitions(seq, limit=limit)

    async def retry(self, ticket_id: str, *, by: str) -> Run:
        """Start a stopped or failed run again as the next attempt, from where its work is
        (the worktree and branch are reused). The ticket must still be in progress."""
        wanted = canonical_id(ticket_id)
        run = self._require_state().run(wanted)
        if run is None:
            raise InvalidRequest(f"{wanted} has no run to retry", details={"ticket_id": wanted})
        if not run.phase.over or run.phase is Phase.DONE:
            raise InvalidTransition(
                f"the run of {wanted} is {run.phase}: only a stopped or failed run is retried",
                details={"ticket_id": wanted, "phase": str(run.phase)},
            )
        if self._problems:
            raise InvalidTransition(
                f"the run of {wanted} cannot start again now: {self._problems[0].message}",
                details={"ticket_id": wanted, "problem": self._problems[0].code},
            )
        if self.tickets.get(wanted).meta.state is not State.INPROGRESS:
            raise InvalidTransition(
                f"{wanted} is no longer in progress: queue it again instead",
                details={"ticket_id": wanted},
            )
        return await self._require().retry(run, by=by)

    # -- helpers ------------------------------------------------------------------

    def _missing_runtimes(self) -> list[Problem]:
        """The roles' runtimes this workspace does not have (the local one turned off)."""
        found = []
        for runtime_id in dict.fromkeys((self.roles.intake_runtime, self.roles.work_runtime)):
            try:
                self._hosts.host(runtime_id)
            except RuntimeNotFound as error:
                found.append(Problem(error.code, f"{error.message}: the orchestrator needs it"))
        return found

    def _active(self, ticket_id: str) -> Run:
        wanted = canonical_id(ticket_id)
        run = self._require_state().run(wanted)
        if run is None:
            raise InvalidRequest(f"{wanted} has no run", details={"ticket_id": wanted})
        if run.phase.over:
            raise InvalidTransition(
                f"the run of {wanted} is {run.phase} already",
                details={"ticket_id": wanted, "phase": str(run.phase)},
            )
        return run

    def _require(self) -> Passes:
        if self._passes is None:
            raise InvalidRequest("the orchestrator is not open")
        return self._passes

    def _require_state(self) -> OrchestratorState:
        if self._state is None:
            raise InvalidRequest("the orchestrator is not open")
        return self._state

    def _state_or_none(self) -> OrchestratorState | None:
        return self._state
