"""The seed epic through the real loop: the ten worker-runtime tickets of the sample store,
re-created with their depends_on relations and queued at once, reach ``done`` through the
intake, coders and reviewers (the demo playbook model, which really writes and commits) in
an order that respects every dependency, never more than ``max_parallel`` at once; each
thread tells the whole story in order, and git is left with ten merges and nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path

from tests.git_repo import git
from tests.orchestrator.epic import dependencies, seed_epic
from tests.orchestrator.stack import make_repository, orchestrator_stack, queue
from tests.orchestrator.test_loop import STORY, story

from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DemoModel
from yoi.tickets.model import EventKind

MAX_PARALLEL = 2


async def test_the_seed_epic_reaches_done_in_dependency_order(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    settings = OrchestratorSettings(max_parallel=MAX_PARALLEL, pass_interval=1.0)
    async with orchestrator_stack(
        root, intake_model=DemoModel(), work_model=DemoModel(), settings=settings
    ) as stack:
        made = seed_epic(stack.tickets)
        stack.orchestrator.wake()
        await stack.until(
            lambda: all(
                (run := stack.orchestrator.run(t)) is not None and run.phase.over
                for t in made.values()
            ),
            seconds=300,
        )
        runs = {sample: stack.run(ticket) for sample, ticket in made.items()}
        threads = {sample: stack.tickets.get(ticket).events for sample, ticket in made.items()}
    assert {sample: run.phase for sample, run in runs.items()} == dict.fromkeys(made, Phase.DONE)
    for sample, needs in dependencies().items():
        for target in needs:
            assert runs[target].updated_at <= runs[sample].started_at, (sample, target)
    assert most_at_once(runs.values()) <= MAX_PARALLEL
    for sample, events in threads.items():
        told = story(events)
        waited = [line for line in told[: -len(STORY)] if line.startswith("decision: ")]
        assert told[len(waited) :] == STORY, (sample, told)
        assert all("implementation_ready" not in line for line in waited)
        bodies = [e.body for e in events if e.kind == EventKind.DECISION]
        repeated = [one for one, two in pairwise(bodies) if one == two]
        assert not repeated, f"{sample}: a decision written again unchanged"
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    assert len(merges) == len(made)
    assert git(root, "branch", "--list", "work/*").strip() == ""
    listed = git(root, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 2  # the checkout and .worktree/orchestration


def most_at_once(runs: Iterable[Run]) -> int:
    """The most runs in flight at one moment (one ending as another starts is not both)."""
    edges: list[tuple[float, int]] = []
    for run in runs:
        edges += [(run.started_at, 1), (run.updated_at, -1)]
    most = now = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        now += step
        most = max(most, now)
    return most


def ticket_writing(line: str) -> str:
    return (
        f"Print {line}.\n\n<<< app.py\nprint('{line}')\n>>>\n\n"
        "<<<fix app.py\nprint('A')\nprint('B')\n>>>\n"
    )


async def test_a_merge_conflict_goes_back_to_its_coder_with_the_paths(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    settings = OrchestratorSettings(max_parallel=2, pass_interval=1.0)
    async with orchestrator_stack(
        root, intake_model=DemoModel(), work_model=DemoModel(), settings=settings
    ) as stack:
        first = queue(stack.tickets, "Print A", ticket_writing("A"))
        second = queue(stack.tickets, "Print B", ticket_writing("B"))
        stack.orchestrator.wake()
        await stack.until(
            lambda: all(
                (run := stack.orchestrator.run(t)) is not None and run.phase.over
                for t in (first, second)
            ),
            seconds=120,
        )
        runs = [stack.run(first), stack.run(second)]
        bodies = [[e.body for e in stack.tickets.get(t).events] for t in (first, second)]
    assert [run.phase for run in runs] == [Phase.DONE, Phase.DONE], (runs, bodies[1][-4:])
    conflicts = [
        [body for body in thread if "conflicts; the merge is aborted" in body] for thread in bodies
    ]
    assert sorted(len(found) for found in conflicts) == [0, 1], conflicts
    told = next(found[0] for found in conflicts if found)
    assert "app.py" in told
    assert sorted(run.fix_rounds for run in runs) == [0, 1]
    assert git(root, "show", "orchestration:app.py") == "print('A')\nprint('B')\n"
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    assert len([m for m in merges if m.startswith("merge: ")]) == 2
