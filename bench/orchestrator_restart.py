"""A restart with 40 runs in flight, until every run has resumed. Target: ≤ 2 s.

Forty queued tickets, no dependencies, ``max_parallel = 40``, on real runtimes and a real
git repository. The intake (the demo playbook model) accepts each at once; the coder's model
never answers, so all forty runs sit in ``implementing``, each waiting on its coder's run.
The orchestrator is then closed as a restart would close it (its tasks cancelled, its state
and lock let go; the runtimes and their hanging coders go on) and a new one is opened on the
same state. The figure is the time from the new one's ``open()`` until every run's task has
resumed: it has found the input it sent before (not sending it again), subscribed to its
coder's events and read the coder's log up to now — re-attached, waiting for the answer.
That moment is observed at the work runtime, which the orchestrator reaches through a host
that notes when each worker's log is read.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from bench._report import Result, run_bench
from yoi.engine.model import ModelChunk, ModelRequest
from yoi.orchestrator.hosts import StaticHosts, WorkerHost
from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.runs import EventStream
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DEMO_REFERENCE, DemoModel
from yoi.runtime import (
    CancelAck,
    CreateWorkerRequest,
    Input,
    InputAck,
    Runtime,
    StopAck,
    WorkerDetail,
)
from yoi.runtime.transcript import TranscriptPage
from yoi.runtime.views import EventPage
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import State, TicketStore

BENCH = "orchestrator_restart"
TICKETS = 40
TARGET_SECONDS = 2.0
CODER = "yoi-coder-"


class HangingCoder:
    """The demo playbook model, except that a coder's request is never answered."""

    name = DEMO_REFERENCE

    def __init__(self) -> None:
        self._model = DemoModel()
        self._never = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        if any(tool.name == "submit_report" for tool in request.tools):
            await self._never.wait()
        async for chunk in self._model.stream(request):
            yield chunk


class NotingHost:
    """A runtime as the orchestrator's host, noting when each coder's event log is read
    (the run's task re-attached to its coder: subscribed, then read the log)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.read: dict[str, float] = {}
        self.changed = asyncio.Event()

    def forget(self) -> None:
        self.read.clear()

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> EventPage:
        page = await self._runtime.events(worker_id, after=after, limit=limit)
        if worker_id.startswith(CODER) and worker_id not in self.read:
            self.read[worker_id] = time.perf_counter()
            self.changed.set()
        return page

    async def subscribe(self, worker_id: str, cursor: str | None = None) -> EventStream:
        return await self._runtime.subscribe(worker_id, cursor)

    async def create_worker(self, request: CreateWorkerRequest | None = None) -> WorkerDetail:
        return await self._runtime.create_worker(request)

    async def get_worker(self, worker_id: str) -> WorkerDetail:
        return await self._runtime.get_worker(worker_id)

    async def send_input(self, worker_id: str, item: Input | str) -> InputAck:
        return await self._runtime.send_input(worker_id, item)

    async def stop_worker(self, worker_id: str, reason: str | None = None) -> StopAck:
        return await self._runtime.stop_worker(worker_id, reason)

    async def cancel_worker(self, worker_id: str) -> CancelAck:
        return await self._runtime.cancel_worker(worker_id)

    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage:
        return await self._runtime.transcript(worker_id, start, limit)

    async def delete_workdir(self, workdir_id: str, *, force: bool = False) -> Mapping[str, object]:
        return await self._runtime.delete_workdir(workdir_id, force=force)

    async def attached(self, count: int, seconds: float) -> None:
        """Wait until ``count`` coders' logs were read since the last :meth:`forget`."""
        async with asyncio.timeout(seconds):
            while len(self.read) < count:
                self.changed.clear()
                await self.changed.wait()


def _repository(root: Path) -> None:
    root.mkdir()
    (root / "app.py").write_text("print('one')\n")
    (root / ".gitignore").write_text(".yoi/state/\n")
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "HOME": str(root.parent)}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run(["git", "-C", str(root), *args], env=env, check=True)


def _queue(tickets: TicketStore) -> list[str]:
    made = []
    for number in range(TICKETS):
        ticket = tickets.create(f"Note {number}", "Write the note.\n", author="b").id
        tickets.move(ticket, State.READY, author="b")
        tickets.move(ticket, State.QUEUED, author="b")
        made.append(ticket)
    return made


async def _restart(root: Path) -> tuple[float, float, float]:
    """Seconds to put 40 runs in flight; from ``open()`` to its return; and from ``open()``
    until every run resumed."""
    tickets = TicketStore(root / ".yoi" / "tickets")
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True, spares=2)
    intake = Runtime(runtime_id="backend-internal", model=DemoModel())
    work = Runtime(runtime_id="local", model=HangingCoder(), workdirs=workdirs)
    settings = OrchestratorSettings(max_parallel=TICKETS, pass_interval=1.0)
    async with intake, work:
        noting = NotingHost(work)
        hosts = StaticHosts({"backend-internal": intake, "local": _host(noting)})
        first = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings)
        started = time.perf_counter()
        async with first:
            made = _queue(tickets)
            first.wake()
            await noting.attached(TICKETS, 300)
            filled = time.perf_counter() - started
            _check(first, made)
            noting.forget()
        second = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings)
        opening = time.perf_counter()
        async with second:
            opened = time.perf_counter() - opening
            await noting.attached(TICKETS, 60)
            resumed = max(noting.read.values()) - opening
            _check(second, made)
    return filled, opened, resumed


def _host(host: NotingHost) -> WorkerHost:
    return host


def _check(orchestrator: Orchestrator, made: list[str]) -> None:
    phases = {(run := orchestrator.run(t)) and run.phase for t in made}
    if phases != {Phase.IMPLEMENTING}:
        raise SystemExit(f"expected every run implementing, found {phases}")


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-restart-") as folder:
        root = Path(folder) / "repo"
        await asyncio.to_thread(_repository, root)
        filled, opened, resumed = await _restart(root)
    note = f"{TICKETS} runs in flight, each re-attached to its hanging coder"
    return [
        Result(BENCH, "open() to every run resumed", resumed, "s", TARGET_SECONDS, "max", note),
        Result(BENCH, "open() itself", opened, "s"),
        Result(BENCH, f"queue to {TICKETS} runs in flight, before the restart", filled, "s"),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
