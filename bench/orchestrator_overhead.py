"""The orchestrator's own cost per ticket on a repository of 5,000 files. Target: p50 ≤ 1.5 s.

Everything but the model and validation: the pass, the decision and acceptance written on
the ticket, the workdir (a git worktree of 5,000 files) and the coder made on the work
runtime, the input, the check of the report against git, the reviewer, the merge into the
integration branch in its own worktree, the move to ``done``, and the cleanup (workers
stopped, the worktree and its branch removed). The models are scripted and answer at once,
and no validation command is configured, so a ticket's time from the start of its run to
``done`` is the orchestrator's overhead. Tickets run one at a time (``max_parallel = 1``).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench._report import Result, p50, percentile, run_bench
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.script import Call, Step, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import State, TicketStore

BENCH = "orchestrator_overhead"
FILES = 5_000
TICKETS = 12
TARGET_SECONDS = 1.5
INTENT = {
    "implementation_ready": True,
    **{
        name: ["a line"]
        for name in (
            "intent",
            "binding_decisions",
            "requirements",
            "implementation_latitude",
            "escalate_if",
            "validation",
            "reviewer_focus",
        )
    },
}


def _repository(root: Path) -> None:
    root.mkdir()
    for number in range(FILES):
        folder = root / "src" / f"pkg{number % 50}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{number}.py").write_text(f"VALUE = {number}\n")
    (root / ".gitignore").write_text(".yoi/state/\n")
    env = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "HOME": str(root.parent)}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "files"]):
        subprocess.run(["git", "-C", str(root), *args], env=env, check=True)


def _scripts() -> tuple[list[list[Step]], list[list[Step]]]:
    intake: list[list[Step]] = []
    work: list[list[Step]] = []
    review = {"verdict": "approve", "summary": "fine", "findings": []}
    for number in range(TICKETS):
        path = f"notes/ticket{number}.md"
        report = {"summary": "note", "files": [path], "commands": []}
        intake += [[Call("submit_intent", INTENT)], [Text("ready")]]
        work += [
            [Call("write_file", {"path": path, "content": f"ticket {number}\n"})],
            [Call("git_commit", {"message": f"Ticket {number}", "all": True})],
            [Call("submit_report", report)],
            [Text("done")],
            [Call("submit_review", review)],
            [Text("approved")],
        ]
    return intake, work


async def _run(root: Path) -> list[float]:
    tickets = TicketStore(root / ".yoi" / "tickets")
    intake_turns, work_turns = _scripts()
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True, spares=2)
    intake = Runtime(runtime_id="backend-internal", model=ScriptedModel(intake_turns))
    work = Runtime(runtime_id="local", model=ScriptedModel(work_turns), workdirs=workdirs)
    settings = OrchestratorSettings(max_parallel=1, pass_interval=1.0)
    async with intake, work:
        hosts = StaticHosts({"backend-internal": intake, "local": work})
        orchestrator = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings)
        async with orchestrator:
            made = []
            for number in range(TICKETS):
                ticket = tickets.create(f"Note {number}", "Write the note.\n", author="b").id
                tickets.move(ticket, State.READY, author="b")
                tickets.move(ticket, State.QUEUED, author="b")
                made.append(ticket)
            orchestrator.wake()
            async with asyncio.timeout(600):
                while not all(_over(orchestrator, ticket) for ticket in made):
                    await orchestrator.changed()
            runs = [orchestrator.run(ticket) for ticket in made]
    if any(run is None or run.phase != "done" for run in runs):
        raise SystemExit(f"not every ticket reached done: {[r and r.phase for r in runs]}")
    return [run.updated_at - run.started_at for run in runs if run is not None]


def _over(orchestrator: Orchestrator, ticket: str) -> bool:
    run = orchestrator.run(ticket)
    return run is not None and run.phase.over


async def measure() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-orch-") as folder:
        root = Path(folder) / "repo"
        made = time.perf_counter()
        await asyncio.to_thread(_repository, root)
        setup = time.perf_counter() - made
        started = time.perf_counter()
        samples = await _run(root)
        wall = time.perf_counter() - started
    spread = (
        f"p90 {percentile(samples, 0.9):.2f} s, max {max(samples):.2f} s, "
        f"mean {statistics.mean(samples):.2f} s over {len(samples)} tickets on {FILES:,} files"
    )
    return [
        Result(BENCH, "per-ticket overhead p50", p50(samples), "s", TARGET_SECONDS, "max", spread),
        Result(BENCH, f"{TICKETS} tickets one at a time, wall", wall, "s"),
        Result(BENCH, "making the repository", setup, "s"),
    ]


if __name__ == "__main__":
    run_bench(BENCH, measure)
