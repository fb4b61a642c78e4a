"""The seed epic end to end: wall time, reported (no target).

The ten worker-runtime tickets of the sample store, re-created with their ``depends_on``
relations in a new git repository and queued at once, taken to ``done`` two at a time by
the real loop on real runtimes, with the demo playbook model as intake, coder and reviewer
(it answers at once, writing and committing each ticket's note) and ``true`` as the one
validation command, run in the sandbox like any other.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from tests.orchestrator.epic import seed_epic

from bench._report import Result, run_bench
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DemoModel
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import TicketStore
from yoi.tools.sandbox import Sandbox, SandboxMode

BENCH = "orchestrator_epic"


def _repository(root: Path) -> None:
    root.mkdir()
    (root / "app.py").write_text("print('one')\n")
    (root / ".gitignore").write_text(".yoi/state/\n")
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "HOME": str(root.parent)}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run(["git", "-C", str(root), *args], env=env, check=True)


async def _epic(root: Path) -> tuple[float, int]:
    tickets = TicketStore(root / ".yoi" / "tickets")
    sandbox = await Sandbox.probe(SandboxMode.BWRAP)
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True, spares=2)
    intake = Runtime(runtime_id="backend-internal", model=DemoModel())
    work = Runtime(runtime_id="local", model=DemoModel(), workdirs=workdirs, sandbox=sandbox)
    settings = OrchestratorSettings(max_parallel=2, pass_interval=1.0, validation=("true",))
    async with intake, work:
        hosts = StaticHosts({"backend-internal": intake, "local": work})
        orchestrator = Orchestrator(
            root=root, tickets=tickets, hosts=hosts, settings=settings, sandbox=sandbox
        )
        async with orchestrator:
            made = list(seed_epic(tickets).values())
            started = time.perf_counter()
            orchestrator.wake()
            async with asyncio.timeout(900):
                while not all(_over(orchestrator, ticket) for ticket in made):
                    await orchestrator.changed()
            wall = time.perf_counter() - started
            done = sum(1 for t in made if (run := orchestrator.run(t)) and run.phase == "done")
    return wall, done


def _over(orchestrator: Orchestrator, ticket: str) -> bool:
    run = orchestrator.run(ticket)
    return run is not None and run.phase.over


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-epic-") as folder:
        root = Path(folder) / "repo"
        await asyncio.to_thread(_repository, root)
        wall, done = await _epic(root)
    if done != 10:
        raise SystemExit(f"only {done} of the epic's 10 tickets reached done")
    return [
        Result(BENCH, "ten-ticket epic, queue to all done, wall", wall, "s", note="2 at a time"),
        Result(BENCH, "per ticket, wall / 10", wall / 10, "s"),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
