"""The orchestrator stops in the middle of an implementation (its process gone, the
runtimes and the coder's run going on) and a new one takes over: it reconciles from the
state, does not ask the coder twice, and finishes with one acceptance, one merge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.git_repo import git
from tests.orchestrator.stack import make_repository, queue
from tests.orchestrator.test_loop import coder_turns, intake_turns, review_turns

from yoi.engine.model import ModelChunk, ModelRequest
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.rebuild import rebuild
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime
from yoi.runtime.transcript import Role, TranscriptEntry
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


@dataclass
class Interrupted:
    """A ticket mid-implementation whose orchestrator is gone; its runtimes go on."""

    root: Path
    tickets: TicketStore
    ticket: str
    intake_model: ScriptedModel
    work: Gated
    local: Runtime
    hosts: StaticHosts


SETTINGS = OrchestratorSettings(pass_interval=0.5)


@asynccontextmanager
async def interrupted(root: Path) -> AsyncIterator[Interrupted]:
    tickets = TicketStore(root / ".yoi" / "tickets")
    intake_model = ScriptedModel(intake_turns())
    work = Gated(ScriptedModel([*coder_turns(), *review_turns()]))
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True)
    intake = Runtime(runtime_id="backend-internal", model=intake_model)
    local = Runtime(runtime_id="local", model=work, workdirs=workdirs)
    hosts = StaticHosts({"backend-internal": intake, "local": local})
    async with intake, local:
        first = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=SETTINGS)
        await first.open()
        ticket = queue(tickets, "Greet in French")
        first.wake()
        async with asyncio.timeout(30):
            await work.asked.wait()  # the coder's run is under way
        assert first.run(ticket) is not None
        await first.aclose()  # the orchestrator is gone; the coder goes on
        yield Interrupted(root, tickets, ticket, intake_model, work, local, hosts)


async def take_over(gone: Interrupted) -> tuple[Run, list[TranscriptEntry]]:
    """A new orchestrator finishes the run; the run, and what its coder was asked."""
    gone.work.gate.set()
    orchestrator = Orchestrator(
        root=gone.root, tickets=gone.tickets, hosts=gone.hosts, settings=SETTINGS
    )
    async with orchestrator:
        async with asyncio.timeout(30):
            while (run := orchestrator.run(gone.ticket)) is None or not run.phase.over:
                await orchestrator.changed()
        assert run.phase is Phase.DONE, run.stop_reason
        assert run.coder_worker_id is not None
        transcript = await gone.local.transcript(run.coder_worker_id)
    return run, [entry for entry in transcript.items if entry.role is Role.USER]


def assert_once(gone: Interrupted) -> None:
    """One acceptance decision on the ticket, one merge on the integration branch."""
    detail = gone.tickets.get(gone.ticket)
    decisions = [e for e in detail.events if e.kind == EventKind.DECISION]
    assert len(decisions) == 1, [(e.kind, e.body[:40]) for e in detail.events]
    merges = git(gone.root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    assert len(merges) == 1


async def test_a_new_orchestrator_finishes_a_run_without_repeating_a_step(tmp_path: Path) -> None:
    async with interrupted(make_repository(tmp_path / "repo")) as gone:
        _, asks = await take_over(gone)
        assert len(asks) == 1, [e.content[:60] for e in asks]
        assert_once(gone)


async def test_a_lost_state_is_rebuilt_from_the_tickets_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    async with interrupted(root) as gone:
        for lost in root.glob(".yoi/state/orchestrator.db*"):
            lost.unlink()
        with OrchestratorState.open(state_path(root)) as state:
            rebuilt = rebuild(state, gone.tickets, time.time)
        assert rebuilt.runs == ((gone.ticket, "implementing"),)
        _, asks = await take_over(gone)
        assert len(asks) == 1
        with OrchestratorState.open(state_path(root)) as state:
            again = rebuild(state, gone.tickets, time.time)
        assert again.runs == ()  # a ticket with a run is left as it is
        gone.intake_model.assert_consumed()  # the intake was asked once, before the loss
        assert_once(gone)
