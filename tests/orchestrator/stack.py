"""An in-process orchestrator over real runtimes, a real git repository and a real ticket
store: the intake on ``backend-internal``, coder and reviewer on ``local`` with workdirs in
the repository's ``.worktree/``, as ``yoi serve`` arranges them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.git_repo import git

from yoi.engine.model import Model
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.run_record import Run
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import State, TicketStore
from yoi.tools.sandbox import Sandbox, SandboxMode

__all__ = ["Stack", "make_repository", "orchestrator_stack", "queue"]

PERSON = "ann"


def make_repository(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    (root / ".gitignore").write_text(".yoi/state/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    return root


def queue(store: TicketStore, title: str, body: str = "Do it.\n") -> str:
    ticket = store.create(title, body, author=PERSON).id
    store.move(ticket, State.READY, author=PERSON)
    store.move(ticket, State.QUEUED, author=PERSON)
    return ticket


@dataclass
class Stack:
    root: Path
    tickets: TicketStore
    orchestrator: Orchestrator
    intake: Runtime
    work: Runtime

    async def until(self, check: Callable[[], bool], seconds: float = 60.0) -> None:
        """Wait, with a deadline, until ``check`` holds after some run changed."""
        async with asyncio.timeout(seconds):
            while not check():
                waiting = asyncio.ensure_future(self.orchestrator.changed())
                try:
                    await asyncio.wait_for(asyncio.shield(waiting), 1.0)
                except TimeoutError:
                    waiting.cancel()

    def run(self, ticket_id: str) -> Run:
        found = self.orchestrator.run(ticket_id)
        assert found is not None
        return found


@asynccontextmanager
async def orchestrator_stack(
    root: Path,
    *,
    intake_model: Model,
    work_model: Model,
    settings: OrchestratorSettings | None = None,
    sandbox: bool = False,
) -> AsyncIterator[Stack]:
    tickets = TicketStore(root / ".yoi" / "tickets")
    probe = await Sandbox.probe(SandboxMode.BWRAP) if sandbox else None
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True, spares=2)
    intake = Runtime(runtime_id="backend-internal", model=intake_model)
    work = Runtime(runtime_id="local", model=work_model, workdirs=workdirs, sandbox=probe)
    async with intake, work:
        hosts = StaticHosts({"backend-internal": intake, "local": work})
        orchestrator = Orchestrator(
            root=root,
            tickets=tickets,
            hosts=hosts,
            settings=settings or OrchestratorSettings(pass_interval=0.5),
            sandbox=probe,
        )
        async with orchestrator:
            yield Stack(root, tickets, orchestrator, intake, work)
