"""The orchestrator under load: forty queued tickets in a forest of ``depends_on`` trees,
eight at a time, on the demo playbook model answering after a small delay. Every ticket
reaches ``done``; none starts before all it depends on are done; never more than eight runs
are in flight (observed, not configured); and a subscriber that reads the orchestration
stream by cursor, a page at a time while the tickets run, reads every phase change of every
run exactly once and in order, the same as the log read whole at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.git_repo import git
from tests.orchestrator.stack import PERSON, Stack, make_repository, orchestrator_stack

from yoi.engine.model import ModelChunk, ModelRequest
from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DEMO_REFERENCE, DemoModel
from yoi.tickets import RelationKind, State, TicketStore

__all__ = [
    "DELAY",
    "MAX_PARALLEL",
    "PHASES",
    "SlowDemo",
    "check_dependency_order",
    "check_histories",
    "forest",
    "most_in_flight",
]

TREES = 5
PER_TREE = 8  # heap-shaped: node k depends on node (k - 1) // 2, four levels deep
MAX_PARALLEL = 8
DELAY = 0.01  # seconds before each model answer
PAGE = 7  # a small page, so that reading by cursor crosses many page ends
PHASES = [str(p) for p in Phase if p not in (Phase.STOPPED, Phase.FAILED)]

Transition = dict[str, Any]


class SlowDemo:
    """The demo playbook model, answering each request after ``delay`` seconds."""

    name = DEMO_REFERENCE

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._model = DemoModel()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        await asyncio.sleep(self._delay)
        async for chunk in self._model.stream(request):
            yield chunk


def forest(store: TicketStore, trees: int = TREES, per_tree: int = PER_TREE) -> dict[str, str]:
    """Create ``trees`` trees of ``per_tree`` tickets each, every one but a root depending on
    its parent, then mark them ready and queue them; each ticket's parent (``""`` for a
    root)."""
    parents: dict[str, str] = {}
    for tree in range(trees):
        made: list[str] = []
        for node in range(per_tree):
            title = f"Tree {tree} node {node}"
            ticket = store.create(title, f"Write the note of {title}.\n", author=PERSON).id
            parent = made[(node - 1) // 2] if node else ""
            if parent:
                store.add_relation(ticket, RelationKind.DEPENDS_ON, parent, author=PERSON)
            made.append(ticket)
            parents[ticket] = parent
    for ticket in parents:
        store.move(ticket, State.READY, author=PERSON)
        store.move(ticket, State.QUEUED, author=PERSON)
    return parents


async def read_stream(
    orchestrator: Orchestrator, over: asyncio.Event, page: int = PAGE
) -> list[Transition]:
    """What a subscriber reads by resuming from its cursor, ``page`` transitions at a time,
    waking on each change, until ``over`` is set and nothing is left to read."""
    read: list[Transition] = []
    cursor: str | None = None
    while True:
        found = [t.to_dict() for t in orchestrator.transitions(cursor, limit=page)]
        read += found
        if found:
            cursor = str(found[-1]["cursor"])
        if len(found) == page:
            continue
        if over.is_set():
            return read
        await _change(orchestrator)


async def in_flight_peak(
    orchestrator: Orchestrator, tickets: Iterable[str], over: asyncio.Event
) -> int:
    """The most runs seen in flight at once, looked at on every change until ``over``."""
    watched = list(tickets)
    most = 0
    while not over.is_set():
        now = sum(1 for t in watched if (r := orchestrator.run(t)) and not r.phase.over)
        most = max(most, now)
        await _change(orchestrator)
    return most


async def _change(orchestrator: Orchestrator) -> None:
    """The next change, or a second without one (a change may land between two looks)."""
    waiting = asyncio.ensure_future(orchestrator.changed())
    try:
        await asyncio.wait_for(asyncio.shield(waiting), 1.0)
    except TimeoutError:
        waiting.cancel()


def all_over(stack: Stack, tickets: Iterable[str]) -> bool:
    return all((run := stack.orchestrator.run(t)) is not None and run.phase.over for t in tickets)


async def test_forty_tickets_eight_at_a_time_in_dependency_order(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    settings = OrchestratorSettings(max_parallel=MAX_PARALLEL, pass_interval=1.0)
    model = SlowDemo(DELAY)
    async with orchestrator_stack(
        root, intake_model=model, work_model=model, settings=settings
    ) as stack:
        parents = forest(stack.tickets)
        over = asyncio.Event()
        reader = asyncio.create_task(read_stream(stack.orchestrator, over))
        peak = asyncio.create_task(in_flight_peak(stack.orchestrator, parents, over))
        stack.orchestrator.wake()
        await stack.until(lambda: all_over(stack, parents), seconds=120)
        over.set()
        async with asyncio.timeout(10):
            read, seen_at_once = await reader, await peak
        whole = [t.to_dict() for t in stack.orchestrator.transitions(None, limit=10_000)]
        runs = {ticket: stack.run(ticket) for ticket in parents}
        states = {ticket: stack.tickets.get(ticket).meta.state for ticket in parents}
    assert {t: run.phase for t, run in runs.items()} == dict.fromkeys(parents, Phase.DONE)
    assert states == dict.fromkeys(parents, State.DONE)
    assert read == whole
    check_histories(read, parents)
    assert 1 <= seen_at_once <= MAX_PARALLEL
    assert most_in_flight(read) <= MAX_PARALLEL
    bases = {ticket: str(run.base_commit) for ticket, run in runs.items()}
    check_dependency_order(read, parents, root, bases)


def check_histories(read: list[Transition], parents: Mapping[str, str]) -> None:
    """Seqs strictly increasing without a gap, cursors unique, and each ticket's phase
    changes exactly the run's whole way to ``done``, once, in order."""
    seqs = [t["seq"] for t in read]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap or a repeat in seq"
    assert len({t["cursor"] for t in read}) == len(read)
    histories: dict[str, list[Transition]] = {ticket: [] for ticket in parents}
    for transition in read:
        assert transition["kind"] == "phase", transition
        histories[transition["ticket_id"]].append(transition)
    for ticket, history in histories.items():
        assert [t["to"] for t in history] == PHASES, (ticket, history)
        assert [t["from"] for t in history] == [None, *PHASES[:-1]], (ticket, history)
        assert {t["attempt"] for t in history} == {1}


def most_in_flight(read: list[Transition]) -> int:
    """The most runs in flight at once by the stream: from a run's first transition to its
    last (a run ending as the next starts is not both)."""
    now = most = 0
    for transition in read:
        if transition["from"] is None:
            now += 1
            most = max(most, now)
        elif transition["to"] == Phase.DONE:
            now -= 1
    return most


def check_dependency_order(
    read: list[Transition], parents: Mapping[str, str], root: Path, bases: Mapping[str, str]
) -> None:
    """No ticket's run began before the ticket it depends on was done: after that run's
    merge was validated (a ticket moves to ``done`` then, as its run begins cleaning up),
    and from a commit of the integration branch that holds that ticket's note."""
    began = {t["ticket_id"]: t["seq"] for t in read if t["from"] is None}
    validated = {t["ticket_id"]: t["seq"] for t in read if t["to"] == Phase.VALIDATING}
    for ticket, parent in parents.items():
        if not parent:
            continue
        assert validated[parent] < began[ticket], (ticket, parent)
        notes = git(root, "ls-tree", "--name-only", bases[ticket], "notes/").split()
        assert f"notes/{parent}.md" in notes, (ticket, parent, notes)
