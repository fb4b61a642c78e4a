"""The loop: passes over the queue, one at a time, and a task per ticket's run.

A pass reads the tickets and the runs, asks the pure policy what may start, writes each
changed decision on its ticket, stops runs whose ticket was taken back, and starts runs for
the tickets the policy picked. A run's task drives it phase by phase through
:mod:`~yoi.orchestrator.steps` until it is over; at open, every run not over gets its task
again, and its steps skip what the state says is done. Something changing (a ticket, a run)
wakes the loop; a slow timer wakes it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime

from yoi.cancelling import cancel_and_wait
from yoi.errors import IntegrationBranchBusy, RunStalled, RuntimeUnavailable, YoiError
from yoi.orchestrator.asks import INTERRUPTED
from yoi.orchestrator.crew import Crew
from yoi.orchestrator.gates import Gates
from yoi.orchestrator.hosts import Hosts
from yoi.orchestrator.integration import Integration
from yoi.orchestrator.operations import OperationStatus
from yoi.orchestrator.policy import blockers_of, decide
from yoi.orchestrator.policy_decision import Decision, Pass, Routing, RunVerdict
from yoi.orchestrator.policy_inputs import PolicyConfig, RunInFlight, Snapshot
from yoi.orchestrator.reasons import WaitReason, decision_reason, run_reason
from yoi.orchestrator.records import TicketRecorder
from yoi.orchestrator.records_decision import notes_of, record_of
from yoi.orchestrator.records_work import RetryNote
from yoi.orchestrator.roles import Roles
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState
from yoi.orchestrator.steps import Steps
from yoi.orchestrator.steps_merge import Finish
from yoi.orchestrator.usage import Accounting, Breach, worktree_bytes
from yoi.orchestrator.views import Problem, Waiting
from yoi.tickets import State, TicketStore
from yoi.tools.sandbox import Sandbox

__all__ = ["Passes"]

log = logging.getLogger(__name__)

_FIRST_BACKOFF = 0.5
_LONGEST_BACKOFF = 30.0
_TRANSIENT = (RuntimeUnavailable,)
_ACCOUNT_EVERY = 1.0


class Passes:
    def __init__(
        self,
        *,
        state: OrchestratorState,
        tickets: TicketStore,
        hosts: Hosts,
        settings: OrchestratorSettings,
        roles: Roles,
        integration: Integration,
        sandbox: Sandbox | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.crew = Crew(
            state=state,
            tickets=tickets,
            recorder=TicketRecorder(tickets),
            hosts=hosts,
            roles=roles,
            settings=settings,
            integration=integration,
            sandbox=sandbox,
            clock=clock,
        )
        self.steps = Steps(self.crew)
        self.finish = Finish(self.crew, self.steps)
        self.gates = Gates(self.crew, self.steps)
        self.accounting = Accounting(self.crew, settings.budgets)
        self._disk: str | None = None
        self._stalled: set[str] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._runs: dict[str, asyncio.Task[None]] = {}

    # -- lifecycle ----------------------------------------------------------------------

    async def prepare(self) -> list[Problem]:
        """Make sure of the integration branch and sweep what finished runs left behind;
        what stands in the way of starting, as problems."""
        try:
            await self.crew.integration.ensure()
        except IntegrationBranchBusy as error:
            return [Problem(error.code, error.message)]
        active = {run.branch for run in self.crew.state.runs(active_only=True) if run.branch}
        with contextlib.suppress(YoiError):
            report = await self.crew.integration.sweep(active)
            for kept in report.kept:
                log.warning("orchestrator: kept %s: it holds unmerged work", kept)
        return []

    def start(self) -> None:
        self._loop = asyncio.create_task(self._forever(), name="orchestrator passes")

    async def aclose(self) -> None:
        tasks = [*self._runs.values(), *([self._loop] if self._loop is not None else [])]
        await cancel_and_wait(*tasks)
        self._runs.clear()
        self._loop = None

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def settled(self) -> None:
        await self._idle.wait()

    async def changed(self) -> None:
        async with self.crew.changes:
            await self.crew.changes.wait()

    # -- what it answers ----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        tickets = self.crew.tickets
        runs = tuple(
            RunInFlight(run.ticket_id, str(run.phase))
            for run in self.crew.state.runs(active_only=True)
        )
        config = PolicyConfig.of(self.crew.settings)
        return Snapshot.of(tickets.catalog(), plans=tickets.plans(), runs=runs, config=config)

    def waiting(self, problems: tuple[Problem, ...]) -> list[Waiting]:
        snapshot = self.snapshot()
        decided = decide(snapshot)
        found = []
        for decision in decided.decisions:
            facts = snapshot.tickets[decision.ticket_id]
            sentence = decision.reason
            held = self._held(decision.ticket_id)
            if problems:
                sentence = f"{decision.ticket_id} waits: the orchestrator cannot start work "
                sentence += f"({problems[0].code}, see its problems)"
            elif not self.crew.settings.enabled:
                sentence = f"{decision.ticket_id} waits: the orchestrator is off"
            elif held is not None:
                sentence = held
            elif self._disk is not None and decision.routing is Routing.IMPLEMENTATION_READY:
                sentence = f"{decision.ticket_id} waits: {self._disk}"
            reason = decision_reason(decision, disk=self._disk is not None).value
            if held is not None:
                reason = self.held_reason(decision.ticket_id)
            routing = str(decision.routing)
            found.append(Waiting(decision.ticket_id, facts.title, routing, sentence, reason))
        return found

    # -- a person's commands --------------------------------------------------------------

    async def stop(self, run: Run, *, by: str) -> Run:
        await self._cancel(run.ticket_id)
        stopped = await self.steps.stop(run, "stopped_by_person", [], by=by)
        self.wake()
        return stopped

    async def gate(
        self, run: Run, gate: str, decision: str, *, by: str, note: str | None = None
    ) -> Run:
        """A person's decision at the gate ``run`` is parked at: an approval lets its task
        go on; a rejection stops it here and returns its ticket to planning."""
        await self.gates.decide(run, gate, decision, by=by, note=note)
        if decision == "approve":
            return await self.gates.clear(run)  # its task, waiting, sees it and goes on
        await self._cancel(run.ticket_id)
        current = self.crew.state.run(run.ticket_id) or run
        rejected = await self.gates.reject(current, gate, self.gates.round_of(current, gate))
        self.wake()
        return rejected

    async def retry(self, run: Run, *, by: str) -> Run:
        crew = self.crew
        phase = Phase.IMPLEMENTING if run.branch is not None else Phase.ACCEPTING
        now = crew.clock()
        fresh = Run(
            ticket_id=run.ticket_id,
            attempt=run.attempt + 1,
            phase=phase,
            started_at=now,
            updated_at=now,
            workdir_id=run.workdir_id,
            branch=run.branch,
            base_commit=run.base_commit,
        )
        await crew.save(fresh)
        log.info("orchestrator: %s retries %s (attempt %d)", by, run.ticket_id, fresh.attempt)
        self._spawn(fresh)
        return fresh

    # -- the loop --------------------------------------------------------------------------

    async def _forever(self) -> None:
        for run in self.crew.state.runs(active_only=True):
            self._spawn(run)
        while True:
            self._wake.clear()
            try:
                started = await self._pass()
            except YoiError as error:
                log.warning("orchestrator: a pass failed: %s", error.message)
                started = 0
            if not started and not self._runs and not self._wake.is_set():
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.crew.settings.pass_interval):
                    await self._wake.wait()

    async def _pass(self) -> int:
        snapshot = await asyncio.to_thread(self.snapshot)
        decided = decide(snapshot)
        await self._check_runs(decided)
        self._disk = await asyncio.to_thread(self._disk_check)
        starts = [] if self._disk else [t for t in decided.start if self._held(t) is None]
        for decision in decided.decisions:
            if decision.routing is Routing.IMPLEMENTATION_READY or self._held(decision.ticket_id):
                continue
            await self.crew.record(functools.partial(self._decide, decision))
        for ticket_id in starts:
            self._spawn(await self._begin(ticket_id))
        return len(starts)

    def _decide(self, decision: Decision) -> bool:
        return self.crew.recorder.decide(
            decision.ticket_id, record_of(decision), notes_of(decision)
        )

    async def _check_runs(self, decided: Pass) -> None:
        for check in decided.runs:
            if check.verdict is not RunVerdict.STOP:
                continue
            run = self.crew.state.run(check.ticket_id)
            if run is None or run.phase.over:
                continue
            await self._cancel(run.ticket_id)
            await self.steps.stop(run, "ticket_taken_back", [check.reason])

    async def _begin(self, ticket_id: str) -> Run:
        earlier = self.crew.state.run(ticket_id)
        now = self.crew.clock()
        attempt = 1 if earlier is None else earlier.attempt + 1
        run = Run(ticket_id, attempt, Phase.ACCEPTING, now, now)
        return await self.crew.save(run)

    def held_reason(self, ticket_id: str) -> str:
        """The reason of a queued ticket kept back by how its last run ended."""
        run = self.crew.state.run(ticket_id)
        found = None if run is None else run_reason(run, last_fix=self.last_fix(run))
        return found or WaitReason.SUPPRESSED.value

    def reason(self, run: Run) -> str | None:
        """Why a run is not running (see :mod:`~yoi.orchestrator.reasons`)."""
        stalled = run.ticket_id in self._stalled
        return run_reason(run, last_fix=self.last_fix(run), stalled=stalled)

    def gate_view(self, run: Run) -> dict[str, object] | None:
        """The gate the run waits at, with its dossier (``None`` when it waits at none)."""
        return self.gates.waiting(run)

    def last_fix(self, run: Run) -> str | None:
        """What the run's last fix round was about (``validation``, ``conflict``...)."""
        rounds = self.crew.rounds(run, "sendback")
        done = self.crew.done(run, "sendback", rounds[-1]) if rounds else None
        return None if done is None else str(done.get("why"))

    def _disk_check(self) -> str | None:
        """Why new runs wait for disk (``disk_budget``), when the worktrees exceed it."""
        most = self.crew.settings.budgets.max_worktree_bytes
        if most is None:
            return None
        used = worktree_bytes(self.crew.worktrees)
        if used <= most:
            return None
        return f"disk_budget: the worktrees hold {used:,} bytes, over the budget of {most:,}"

    def _held(self, ticket_id: str) -> str | None:
        """Why a queued ticket whose last run ended is not started again: it stays put until
        the ticket changes or a person retries it; it never loops."""
        run = self.crew.state.run(ticket_id)
        if run is None or not run.phase.over or run.phase is Phase.DONE:
            return None
        meta = self.crew.tickets.catalog().metas.get(ticket_id)
        if meta is None or meta.state is not State.QUEUED:
            return None
        if _moment(meta.updated_at) > run.updated_at:
            return None
        return (
            f"{ticket_id} waits: its last run ended {run.phase} ({run.stop_reason}); "
            "change the ticket or retry it"
        )

    # -- a run's task --------------------------------------------------------------------

    def _spawn(self, run: Run) -> None:
        self._idle.clear()
        task = asyncio.create_task(self._drive(run), name=f"orchestrator run {run.ticket_id}")
        self._runs[run.ticket_id] = task
        task.add_done_callback(functools.partial(self._ended, run.ticket_id))

    def _ended(self, ticket_id: str, task: asyncio.Task[None]) -> None:
        """A run's task ended (done, stopped, failed or cancelled): pass again."""
        if self._runs.get(ticket_id) is task:
            del self._runs[ticket_id]
        self.wake()

    async def _cancel(self, ticket_id: str) -> None:
        task = self._runs.pop(ticket_id, None)
        if task is not None and task is not asyncio.current_task():
            await cancel_and_wait(task)

    async def _drive(self, run: Run) -> None:
        backoff = _FIRST_BACKOFF
        failures = 0
        while not run.phase.over:
            try:
                run = await self._watched(run)
                backoff = _FIRST_BACKOFF
            except _TRANSIENT as error:
                log.info("orchestrator: %s waits: %s", run.ticket_id, error.message)
                await asyncio.sleep(backoff)  # a runtime that restarts comes back
                backoff = min(backoff * 2, _LONGEST_BACKOFF)
                run = self.crew.state.run(run.ticket_id) or run
            except YoiError as error:
                failures += 1
                run = await self._again(run, failures, error.code, error.message)
            except Exception as error:
                log.exception("orchestrator: the run of %s broke", run.ticket_id)
                failures += 1
                run = await self._again(run, failures, "internal_error", type(error).__name__)

    async def _watched(self, run: Run) -> Run:
        """Carry out the run's phase, reading its usage every second and at its end: a
        budget crossed cancels the phase and ends the run with the figures."""
        phase = asyncio.create_task(self._phase(run), name=f"{run.ticket_id} {run.phase}")
        try:
            while True:
                done, _ = await asyncio.wait({phase}, timeout=_ACCOUNT_EVERY)
                breach = await self._account(self.crew.state.run(run.ticket_id) or run)
                if breach is not None:
                    with contextlib.suppress(YoiError):
                        await cancel_and_wait(phase)
                    current = self.crew.state.run(run.ticket_id) or run
                    return await self._end(
                        current, "budget_exhausted", [breach.message], Phase.STOPPED
                    )
                if done:
                    return phase.result()
        finally:
            if not phase.done():
                phase.cancel()

    async def _account(self, run: Run) -> Breach | None:
        try:
            return await self.accounting.account(run)
        except YoiError as error:  # figures are read again next time
            log.info("orchestrator: usage of %s not read: %s", run.ticket_id, error.message)
            return None

    async def _again(self, run: Run, failures: int, code: str, message: str) -> Run:
        """After a failed or stalled step: try again after a backoff, if the ticket may still
        go on — or suppress the run once its tries are spent. It never loops."""
        crew = self.crew
        current = crew.state.run(run.ticket_id) or run
        if current.phase.over:
            return current
        tries = max(failures, self._failed_steps(current))
        settings = crew.settings
        log.warning("orchestrator: %s: try %d failed: %s", run.ticket_id, tries, message)
        if tries >= settings.max_attempts:
            reason = f"{tries} tries failed; the last: {code}: {message}"
            return await self._end(current, "suppressed", [reason], Phase.FAILED)
        delay = settings.backoff(tries)
        note = RetryNote(code, message, tries + 1, settings.max_attempts, delay)
        await crew.record(lambda: crew.recorder.retrying(current.ticket_id, note))
        if code == RunStalled.code:
            self._stalled.add(current.ticket_id)
        try:
            await asyncio.sleep(delay)  # the backoff itself
        finally:
            self._stalled.discard(current.ticket_id)
        held = await asyncio.to_thread(self._ineligible, current)
        if held is not None:
            return await self._end(current, held[0], [held[1]], Phase.STOPPED)
        return crew.state.run(current.ticket_id) or current

    def _failed_steps(self, run: Run) -> int:
        return sum(
            1
            for step in self.crew.state.steps(run.ticket_id)
            if step.key.attempt == run.attempt
            and step.status is OperationStatus.FAILED
            and step.error != INTERRUPTED  # a restart's doing, asked again at no cost
        )

    def _ineligible(self, run: Run) -> tuple[str, str] | None:
        """Why the run may not try again now (its ticket taken back, a blocker added)."""
        meta = self.crew.tickets.catalog().metas.get(run.ticket_id)
        wanted = State.QUEUED if run.phase is Phase.ACCEPTING else State.INPROGRESS
        if meta is None or meta.state is not wanted:
            state = "gone" if meta is None else meta.state
            return "ticket_taken_back", f"its ticket is {state}"
        blocked = blockers_of(self.snapshot(), run.ticket_id)
        if blocked:
            return "blocked_by_dependency", "; ".join(reason.detail for reason in blocked)
        return None

    async def _end(self, run: Run, code: str, reason: list[str], phase: Phase) -> Run:
        try:
            return await self.steps.stop(run, code, reason, phase=phase)
        except YoiError:
            ended = run.advance(phase, at=self.crew.clock(), stop_reason=code)
            return await self.crew.save(ended)

    async def _phase(self, run: Run) -> Run:
        match run.phase:
            case Phase.ACCEPTING:
                return await self.steps.accept(run)
            case Phase.IMPLEMENTING:
                run = await self.gates.plan(run)
                return run if run.phase.over else await self.steps.implement(run)
            case Phase.REVIEWING:
                return await self.steps.review(run)
            case Phase.MERGING:
                run = await self.gates.merge(run)
                return run if run.phase.over else await self.finish.merge(run)
            case Phase.VALIDATING:
                return await self.finish.merge(run)
            case Phase.CLEANING_UP:
                return await self.finish.clean_up(run)
            case _:
                return run


def _moment(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
