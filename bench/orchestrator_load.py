"""The load scenario at 2 and at 8 in parallel: the orchestrator's cost per ticket.

Target: per ticket at 8 no more than 20 % above per ticket at 2.

Forty queued tickets in five ``depends_on`` trees of eight (four levels deep), the forest of
``tests/orchestrator/test_load.py``, taken to ``done`` by the real loop on real runtimes and
a real 5,000-file repository (the one of ``orchestrator_overhead``), with the demo playbook
model as intake, coder and reviewer answering at once (it writes and commits each ticket's
note) and no validation: everything timed is the orchestrator's own work. With
``max_parallel = 2`` and with 8, twice each, alternating, each on a fresh repository, the
faster of each kept. The workdirs keep a spare worktree per ticket run at once, as ``yoi
serve``'s local runtime does (``max_parallel``). The cost per ticket is the wall time from
the queue to the last ``done`` over the forty tickets; the CPU seconds (this process and the
git processes it waited for) per ticket are given as context, and so is each run's own time
from its start to ``done``, which grows with the runs sharing the CPU. The previous figure,
one ticket at a time, is ``orchestrator_overhead``'s p50.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.orchestrator.test_load import forest

from bench._report import RESULTS, Result, p50, run_bench
from bench.orchestrator_overhead import _repository
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DemoModel
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.tickets import TicketStore

BENCH = "orchestrator_load"
PARALLEL = (2, 8)
TARGET_RATIO = 1.2
ROUNDS = 2  # each, alternating; the faster of each kept (other work on the machine adds noise)
PREVIOUS = ("orchestrator_overhead", "per-ticket overhead p50")


@dataclass(frozen=True, slots=True)
class Load:
    """One run of the scenario: wall and CPU seconds, and each run's start-to-done time."""

    parallel: int
    tickets: int
    wall: float
    cpu: float
    runs: list[float]

    @property
    def per_ticket(self) -> float:
        return self.wall / self.tickets


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _load(root: Path, parallel: int) -> Load:
    tickets = TicketStore(root / ".yoi" / "tickets")
    folder = root / ".worktree"
    workdirs = Workdirs(repositories=[root], folder=folder, shared=True, spares=parallel)
    intake = Runtime(runtime_id="backend-internal", model=DemoModel())
    work = Runtime(runtime_id="local", model=DemoModel(), workdirs=workdirs)
    settings = OrchestratorSettings(max_parallel=parallel, pass_interval=1.0)
    async with intake, work:
        hosts = StaticHosts({"backend-internal": intake, "local": work})
        orchestrator = Orchestrator(root=root, tickets=tickets, hosts=hosts, settings=settings)
        async with orchestrator:
            made = list(forest(tickets))
            cpu, started = _cpu(), time.perf_counter()
            orchestrator.wake()
            async with asyncio.timeout(900):
                while not all(_over(orchestrator, ticket) for ticket in made):
                    await orchestrator.changed()
            wall, cpu = time.perf_counter() - started, _cpu() - cpu
            runs = [orchestrator.run(ticket) for ticket in made]
    if any(run is None or run.phase != Phase.DONE for run in runs):
        raise SystemExit(f"not every ticket reached done: {[r and r.phase for r in runs]}")
    spans = [run.updated_at - run.started_at for run in runs if run is not None]
    return Load(parallel, len(made), wall, cpu, spans)


def _over(orchestrator: Orchestrator, ticket: str) -> bool:
    run = orchestrator.run(ticket)
    return run is not None and run.phase.over


async def _scenario(parallel: int) -> Load:
    with tempfile.TemporaryDirectory(prefix="yoi-bench-load-") as folder:
        root = Path(folder) / "repo"
        await asyncio.to_thread(_repository, root)
        return await _load(root, parallel)


def _figures(load: Load) -> list[Result]:
    at = f"at {load.parallel}"
    spread = f"each run start to done: p50 {p50(load.runs):.2f} s, max {max(load.runs):.2f} s"
    return [
        Result(
            BENCH, f"per ticket {at} (wall / {load.tickets})", load.per_ticket, "s", note=spread
        ),
        Result(BENCH, f"{load.tickets} tickets {at}, wall", load.wall, "s"),
        Result(BENCH, f"CPU per ticket {at}", load.cpu / load.tickets, "s"),
    ]


async def measure() -> list[Result]:
    previous = _previous()
    tries = [await _scenario(parallel) for _ in range(ROUNDS) for parallel in PARALLEL]
    loads = [min((t for t in tries if t.parallel == p), key=lambda t: t.wall) for p in PARALLEL]
    low, high = loads
    ratio = high.per_ticket / low.per_ticket
    note = (
        f"per ticket at {high.parallel} / at {low.parallel}; "
        f"CPU per ticket ratio {high.cpu / low.cpu:.2f}; "
        f"mean run {statistics.mean(high.runs):.2f} s against {statistics.mean(low.runs):.2f} s"
    )
    return [
        *(figure for load in loads for figure in _figures(load)),
        Result(BENCH, "per-ticket ratio, 8 against 2", ratio, "x", TARGET_RATIO, "max", note),
        *previous,
    ]


def _previous() -> list[Result]:
    """The previous figure, one ticket at a time, as ``orchestrator_overhead`` last saved it."""
    try:
        saved = json.loads(RESULTS.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    for item in saved:
        if (item.get("bench"), item.get("name")) == PREVIOUS:
            name = "previous figure: one at a time, orchestrator_overhead p50"
            return [Result(BENCH, name, float(item["value"]), "s", note="as last saved")]
    return []


if __name__ == "__main__":
    run_bench(BENCH, measure)
