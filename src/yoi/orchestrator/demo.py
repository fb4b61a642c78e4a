"""``yoi orchestrator demo``: the whole loop on a small project, watched phase by phase.

::

    outcome = await run_demo(root, model, say=print, seconds=300)

makes the demo's repository at ``root`` (:mod:`~yoi.orchestrator.demo_project`), queues its
three tickets, and runs an orchestrator in-process as ``yoi serve`` arranges one: the intake
on an embedded ``backend-internal`` runtime, coder and reviewer on a ``local`` one whose
workdirs are in the repository's ``.worktree/``, validation (the program's tests) confined by
the sandbox. It says one line per change of a ticket's phase (or of why it waits) and stops
when every ticket is done, one ends otherwise, or the deadline passes.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from yoi.engine.model import Model
from yoi.errors import ModelUnavailable, UnsupportedOperation
from yoi.orchestrator.demo_project import make_demo_repository, queue_demo_tickets
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.records import AUTHOR
from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DEMO_REFERENCE
from yoi.providers.selection import ModelChoice, ModelSettings, select_model
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import State, TicketStore
from yoi.tools.sandbox import Sandbox, SandboxMode

__all__ = ["DemoOutcome", "demo_choice", "demo_settings", "run_demo"]

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """How the demo ended: ``states`` is each ticket's last line, in ticket order."""

    tickets: tuple[str, ...]
    states: Mapping[str, str]
    problem: str | None
    log: str

    @property
    def done(self) -> bool:
        return self.problem is None


def demo_choice(explicit: str | None, env: Mapping[str, str]) -> ModelChoice:
    """The model that plays the roles: the one named, else one whose key is in ``env``, else
    the demo playbook. The offline model cannot play them (it only says it is offline)."""
    choice = select_model(explicit, ModelSettings(), env)
    if choice.source == "fallback":
        return select_model(DEMO_REFERENCE, ModelSettings(), env)
    if choice.offline:
        raise ModelUnavailable(
            f"{choice.reference} cannot play the orchestrator's roles: leave --model out "
            f"for {DEMO_REFERENCE}, or name a real model",
            details={"model": choice.reference},
        )
    return choice


def demo_settings() -> OrchestratorSettings:
    """Validation is the program's tests, run by this very Python."""
    command = f"{shlex.quote(os.path.realpath(sys.executable))} -m unittest -q"
    return OrchestratorSettings(validation=(command,), validation_timeout=120.0, pass_interval=1.0)


async def run_demo(
    root: Path,
    model: Model,
    *,
    say: Say,
    seconds: float = 300.0,
    sandbox: SandboxMode = SandboxMode.BWRAP,
) -> DemoOutcome:
    """Make the project at ``root``, queue its tickets and watch them until they are done,
    one ends otherwise, or ``seconds`` pass."""
    probe = await Sandbox.probe(sandbox)
    if not probe.status.available:
        raise UnsupportedOperation(
            f"the demo validates in a sandbox, which cannot run here: {probe.status.diagnostic} "
            "(--sandbox none runs the program's tests unconfined)"
        )
    await asyncio.to_thread(make_demo_repository, root)
    say(f"repository: {root} (a small program that greets, on branch main)")
    tickets = TicketStore(root / ".yoi" / "tickets")
    tickets.init()
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True)
    intake = Runtime(runtime_id="backend-internal", model=model)
    work = Runtime(runtime_id="local", model=model, workdirs=workdirs, sandbox=probe)
    settings = demo_settings()
    async with intake, work:
        hosts = StaticHosts({"backend-internal": intake, "local": work})
        orchestrator = Orchestrator(
            root=root, tickets=tickets, hosts=hosts, settings=settings, sandbox=probe
        )
        async with orchestrator:
            ids = await asyncio.to_thread(queue_demo_tickets, tickets)
            watch = _Watch(orchestrator, tuple(ids), say)
            watch.announce()
            orchestrator.wake()
            problem = await watch.until_over(seconds)
    log = await asyncio.to_thread(_log, root, settings.target_branch)
    return DemoOutcome(tuple(ids), dict(watch.shown), problem, log)


class _Watch:
    """Says what changed, ticket by ticket, until every one is over."""

    def __init__(self, orchestrator: Orchestrator, ids: tuple[str, ...], say: Say) -> None:
        self._orchestrator = orchestrator
        self._ids = ids
        self._say = say
        self._started = time.monotonic()
        self.shown: dict[str, str] = {}

    def announce(self) -> None:
        titles = self._titles()
        for number, ticket_id in enumerate(self._ids, 1):
            self._say(f"ticket #{number} {ticket_id}: {titles.get(ticket_id, '')}")

    async def until_over(self, seconds: float) -> str | None:
        """``None`` once every ticket is done; else why the demo ended without that."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    self._report()
                    ended = self._ended()
                    if ended is not None:
                        return ended or None
                    await self._next_change()
        except TimeoutError:
            self._report()
            left = [f"#{n} {self.shown.get(i, '?')}" for n, i in enumerate(self._ids, 1)]
            return f"the deadline of {seconds:g}s passed ({', '.join(left)})"

    async def _next_change(self) -> None:
        """Until a run changes, or a second passes (a ticket's waiting reason has no event)."""
        waiting = asyncio.ensure_future(self._orchestrator.changed())
        try:
            async with asyncio.timeout(1.0):
                await asyncio.shield(waiting)
        except TimeoutError:
            pass
        finally:
            waiting.cancel()

    def _states(self) -> dict[str, str]:
        states: dict[str, str] = {}
        waits = {w.ticket_id: w.sentence for w in self._orchestrator.status().waiting}
        for ticket_id in self._ids:
            run = self._orchestrator.run(ticket_id)
            if run is not None:
                again = run.phase is Phase.REVIEWING and run.review_round > 1
                states[ticket_id] = (
                    f"{run.phase} (round {run.review_round})" if again else str(run.phase)
                )
            elif ticket_id in waits:
                states[ticket_id] = f"waiting: {waits[ticket_id]}"
            else:
                states[ticket_id] = str(self._orchestrator.tickets.get(ticket_id).meta.state)
        return states

    def _report(self) -> None:
        elapsed = time.monotonic() - self._started
        for number, (ticket_id, state) in enumerate(self._states().items(), 1):
            if self.shown.get(ticket_id) != state:
                self.shown[ticket_id] = state
                self._say(f"{elapsed:6.1f}s  #{number}  {state}")

    def _ended(self) -> str | None:
        """``""`` when every ticket is done, a reason when one ended otherwise, else ``None``."""
        for number, ticket_id in enumerate(self._ids, 1):
            run = self._orchestrator.run(ticket_id)
            if run is not None and run.phase.over and run.phase is not Phase.DONE:
                return f"ticket #{number} {ticket_id} ended {run.phase}: {self._last(ticket_id)}"
            state = self._orchestrator.tickets.get(ticket_id).meta.state
            if run is None and state not in (State.QUEUED, State.INPROGRESS):
                return f"ticket #{number} {ticket_id} went back to {state}: {self._last(ticket_id)}"
        every = [self._orchestrator.run(ticket_id) for ticket_id in self._ids]
        return "" if all(run is not None and run.phase is Phase.DONE for run in every) else None

    def _last(self, ticket_id: str) -> str:
        """What the orchestrator last wrote on the ticket (besides moving it): the first line
        and the first reason, which say why it ended."""
        events = self._orchestrator.tickets.get(ticket_id).events
        written = [e for e in events if e.author == AUTHOR and e.kind != "state_changed"]
        lines = [line.strip() for line in written[-1].body.splitlines()] if written else []
        reasons = [line.removeprefix("- ") for line in lines if line.startswith("- ")]
        told = [line for line in [*lines[:1], *reasons[:1]] if line]
        return " — ".join(told) or "see its thread"

    def _titles(self) -> dict[str, str]:
        metas = self._orchestrator.tickets.catalog().metas
        return {ticket_id: metas[ticket_id].title for ticket_id in self._ids if ticket_id in metas}


def _log(root: Path, branch: str) -> str:
    """The integration branch's history, one commit a line (empty when it does not exist)."""
    done = subprocess.run(
        ["git", "-C", str(root), "log", "--no-color", "--graph", "--format=%h %s", branch, "--"],
        capture_output=True,
        check=False,
    )
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""
