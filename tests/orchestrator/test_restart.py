"""The orchestrator stops in the middle of an implementation (its process gone, the
runtimes and the coder's run going on) and a new one takes over: it reconciles from the
state, does not ask the coder twice, and finishes with one acceptance, one merge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

from tests.git_repo import git
from tests.orchestrator.stack import make_repository, queue
from tests.orchestrator.test_loop import coder_turns, intake_turns, review_turns

from yoi.engine.model import ModelChunk, ModelRequest
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.rebuild import rebuild
from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime
from yoi.runtime.transcript import Role
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import TicketStore
from yoi.tickets.model import EventKind


class Gated:
    """A model that answers only once its gate is open (the coder mid-run)."""

    name = "scripted:gated"

    def __init__(self, inner: ScriptedModel) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.asked = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.asked.set()
        await self.gate.wait()
        async for chunk in self.inner.stream(request):
            yield chunk


async def test_a_new_orchestrator_finishes_a_run_without_repeating_a_step(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    tickets = TicketStore(root / ".yoi" / "tickets")
    work = Gated(ScriptedModel([*coder_turns(), *review_turns()]))
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True)
    intake = Runtime(runtime_id="backend-internal", model=ScriptedModel(intake_turns()))
    local = Runtime(runtime_id="local", model=work, workdirs=workdirs)
    hosts = StaticHosts({"backend-internal": intake, "local": local})
    settings = OrchestratorSettings(pass_interval=0.5)
    async with intake, local:
        first = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings)
        await first.open()
        ticket = queue(tickets, "Greet in French")
        first.wake()
        async with asyncio.timeout(30):
            await work.asked.wait()  # the coder's run is under way
        assert first.run(ticket) is not None
        await first.aclose()  # the orchestrator is gone; the coder goes on
        work.gate.set()
        async with Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings) as o:
            async with asyncio.timeout(30):
                while (run := o.run(ticket)) is None or not run.phase.over:
                    await o.changed()
            assert run.phase is Phase.DONE, run.stop_reason
            coder = run.coder_worker_id
            assert coder is not None
            transcript = await local.transcript(coder)
        detail = tickets.get(ticket)
    asks = [e for e in transcript.items if e.role is Role.USER]
    assert len(asks) == 1, [e.content[:60] for e in asks]
    decisions = [e for e in detail.events if e.kind == EventKind.DECISION]
    assert len(decisions) == 1, [(e.kind, e.body[:40]) for e in detail.events]
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    assert len(merges) == 1


async def test_a_lost_state_is_rebuilt_from_the_tickets_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    tickets = TicketStore(root / ".yoi" / "tickets")
    intake_model = ScriptedModel(intake_turns())
    work = Gated(ScriptedModel([*coder_turns(), *review_turns()]))
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True)
    intake = Runtime(runtime_id="backend-internal", model=intake_model)
    local = Runtime(runtime_id="local", model=work, workdirs=workdirs)
    hosts = StaticHosts({"backend-internal": intake, "local": local})
    settings = OrchestratorSettings(pass_interval=0.5)
    async with intake, local:
        first = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings)
        await first.open()
        ticket = queue(tickets, "Greet in French")
        first.wake()
        async with asyncio.timeout(30):
            await work.asked.wait()
        await first.aclose()
        for lost in root.glob(".yoi/state/orchestrator.db*"):
            lost.unlink()
        with OrchestratorState.open(state_path(root)) as state:
            rebuilt = rebuild(state, tickets, time.time)
        assert rebuilt.runs == ((ticket, "implementing"),)
        work.gate.set()
        async with Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings) as o:
            async with asyncio.timeout(30):
                while (run := o.run(ticket)) is None or not run.phase.over:
                    await o.changed()
            assert run.phase is Phase.DONE, run.stop_reason
            assert run.coder_worker_id is not None
            transcript = await local.transcript(run.coder_worker_id)
        detail = tickets.get(ticket)
        with OrchestratorState.open(state_path(root)) as state:
            again = rebuild(state, tickets, time.time)
    assert again.runs == ()  # a ticket with a run is left as it is
    intake_model.assert_consumed()  # the intake was asked once, before the loss
    asks = [e for e in transcript.items if e.role is Role.USER]
    assert len(asks) == 1
    decisions = [e for e in detail.events if e.kind == EventKind.DECISION]
    assert len(decisions) == 1
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    assert len(merges) == 1
