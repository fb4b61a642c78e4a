"""A process test: ``yoi serve`` dies at each failpoint in turn during three-ticket runs on the
demo playbook model. It is started with every failpoint not yet reached armed, dies at the
first one its run reaches, and is started again with the rest, until each has been reached
once (three more tickets are queued whenever a run ends with points left). Then every ticket
is done with nothing done twice: one acceptance, one coder, one reviewer, one merge and one
``→ done`` each, no ``work/`` branch and no worktree but the integration one left; and each
ticket's thread reads as the same ticket's does after a run that nothing interrupted (the
orchestrator writes no note of a restart, so the two are of one shape:
:mod:`tests.backend.thread_shape`)."""

from __future__ import annotations

import asyncio
import difflib
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.backend.test_orchestrator_process import (
    Status,
    all_done,
    configured_repository,
    status_until,
)
from tests.backend.test_process import _LISTENING, Served, Serving
from tests.backend.thread_shape import Shape, thread_shape
from tests.git_repo import git
from tests.server.test_process import Done, clean_env

from yoi.orchestrator.failpoints import ENVIRONMENT, EXIT_CODE, Failpoint
from yoi.tickets import State, TicketStore
from yoi.tickets.model import EventKind

DEADLINE = 60.0
_REACHED = re.compile(r"failpoint (\S+) reached")
_ROUND = re.compile(r" \(\d+\)$")
CONFIG = """\
[orchestrator]
max_parallel = 2
pass_interval = 1
validation = ["true"]
"""
TITLES = ("Add a greeting", "Add a farewell", "Add a toast")
ARGS = ("--model", "demo:playbook", "--listen", "127.0.0.1:0")


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as started:
        yield started


def workspace(tmp_path: Path) -> tuple[Path, list[str]]:
    tmp_path.mkdir(exist_ok=True)
    root = configured_repository(tmp_path, CONFIG)
    return root, queued(root, TITLES)


def queued(root: Path, titles: tuple[str, ...]) -> list[str]:
    """Tickets of ``titles``, marked ready and queued, as a person does."""
    store = TicketStore(root / ".yoi" / "tickets")
    try:
        made = [store.create(title, f"{title}.\n", author="ann").id for title in titles]
        for ticket in made:
            store.move(ticket, State.READY, author="ann")
            store.move(ticket, State.QUEUED, author="ann")
    finally:
        store.close()
    return made


async def listening(serving: Serving, process: asyncio.subprocess.Process) -> Served | Done:
    """The backend once it listens, or how it ended when it exits first."""
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(DEADLINE):
        while not lines or not lines[-1].startswith("listening on"):
            line = (await process.stdout.readline()).decode()
            if not line:
                return await serving.finish(process)
            lines.append(line)
    found = _LISTENING.fullmatch(lines[-1].rstrip("\n"))
    assert found is not None, lines
    return Served(process, lines, found.group(1))


async def done_or_told(served: Served, tickets: list[str]) -> Status:
    """The status once every ticket's run is over; a failure showing the runs unless
    every one is done."""

    def over(status: Status) -> bool:
        ended = {run["ticket_id"] for run in status["runs"] if run["over"]}
        return ended >= set(tickets)

    final = await status_until(served, over)
    ended = [(r["ticket_id"], r["phase"], r["stop_reason"], r["reason"]) for r in final["runs"]]
    assert all_done(tickets)(final), ended
    return final


@pytest.mark.timeout(300)  # about 75 s; twice that and more on a machine busy elsewhere
async def test_serve_dies_at_each_failpoint_in_turn_and_restarts_finish_without_repeats(
    serving: Serving, tmp_path: Path
) -> None:
    expected = await uninterrupted(serving, tmp_path / "uninterrupted")
    root, tickets = workspace(tmp_path)
    left = list(Failpoint)
    for rounds in range(1, 5):
        reached = await die_at_each(serving, root, tickets, left)
        left = [point for point in left if point not in reached]
        if not left:
            break
        assert reached, f"round {rounds} reached none of {left}"
        tickets += queued(root, tuple(f"{title} ({rounds + 1})" for title in TITLES))
    assert not left, f"never reached: {left}"
    again = await serving.serve(root, *ARGS, env=clean_env())
    final = await done_or_told(again, tickets)
    async with httpx.AsyncClient(base_url=again.loopback, timeout=DEADLINE) as http:
        listed = await http.get("/api/workers", params={"runtime_id": "local", "limit": 200})
    assert listed.status_code == 200, listed.text
    workers = [w["worker_id"] for w in listed.json()["workers"]]
    await serving.stop(again, signal.SIGTERM)
    assert_once_each(root, tickets, final, workers)
    assert_threads_alike(root, tickets, expected)


async def uninterrupted(serving: Serving, base: Path) -> dict[str, Shape]:
    """The thread shape of each of the three tickets, by title, after a run that nothing
    interrupted (same config, same model)."""
    root, tickets = workspace(base)
    served = await serving.serve(root, *ARGS, env=clean_env())
    await done_or_told(served, tickets)
    await serving.stop(served, signal.SIGTERM)
    return {title: shape for _, title, shape in shapes(root, tickets)}


def shapes(root: Path, tickets: list[str]) -> list[tuple[str, str, Shape]]:
    """Each ticket's id, title (without a later round's ``(2)``) and thread shape."""
    store = TicketStore(root / ".yoi" / "tickets")
    try:
        details = [store.get(ticket) for ticket in tickets]
    finally:
        store.close()
    return [(d.id, _ROUND.sub("", d.meta.title), thread_shape(d)) for d in details]


def assert_threads_alike(root: Path, tickets: list[str], expected: dict[str, Shape]) -> None:
    """Every ticket's thread has the shape of its title's in the uninterrupted run."""
    differing = [
        "\n".join(
            difflib.unified_diff(
                _lines(expected[title]), _lines(shape), "uninterrupted", ticket, lineterm=""
            )
        )
        for ticket, title, shape in shapes(root, tickets)
        if shape != expected[title]
    ]
    assert not differing, "\n\n".join(differing)


def _lines(shape: Shape) -> list[str]:
    return [line for event in shape for line in str(event).split("\n")]


async def die_at_each(
    serving: Serving, root: Path, tickets: list[str], armed: list[Failpoint]
) -> list[Failpoint]:
    """Serve with ``armed`` until its run is done, starting again each time the process dies
    at a failpoint (with that one disarmed); the failpoints reached, in order."""
    reached: list[Failpoint] = []
    while len(reached) < len(armed):
        names = ",".join(point.value for point in armed if point not in reached)
        env = clean_env(**{ENVIRONMENT: names})
        started = await listening(serving, await serving.start(root, *ARGS, env=env))
        if not isinstance(started, Done):
            ended = asyncio.ensure_future(started.process.wait())
            finished = asyncio.ensure_future(status_until(started, all_done(tickets)))
            await asyncio.wait({ended, finished}, return_when=asyncio.FIRST_COMPLETED)
            if not ended.done() and finished.exception() is None:
                ended.cancel()
                await serving.stop(started, signal.SIGTERM)
                return reached  # this round is done; the points left wait for the next
            finished.cancel()
            async with asyncio.timeout(DEADLINE):
                await ended
            started = await serving.finish(started.process)
        assert started.code == EXIT_CODE, started.err
        found = _REACHED.search(started.err)
        assert found is not None, started.err
        reached.append(Failpoint(found.group(1)))
    return reached


def assert_once_each(root: Path, tickets: list[str], final: Status, workers: list[str]) -> None:
    assert {run["attempt"] for run in final["runs"]} == {1}
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    for ticket in tickets:
        assert sum(1 for m in merges if m.startswith(f"merge: {ticket} ")) == 1, merges
        for role in ("coder", "reviewer"):  # one review round: the demo approves at once
            made = [w for w in workers if w.startswith(f"yoi-{role}-{ticket.lower()}")]
            assert len(made) == 1, workers
    store = TicketStore(root / ".yoi" / "tickets")
    try:
        for ticket in tickets:
            events = store.get(ticket).events
            accepted = [
                e
                for e in events
                if e.kind == EventKind.DECISION and "implementation_ready" in e.body
            ]
            assert len(accepted) == 1, [e.body for e in events]
            moves = [e.body for e in events if e.body.startswith("State changed from")]
            assert sum(1 for m in moves if m.endswith(" to `inprogress`.")) == 1, moves
            assert sum(1 for m in moves if m.endswith(" to `done`.")) == 1, moves
            assert store.get(ticket).meta.state is State.DONE
    finally:
        store.close()
    assert git(root, "branch", "--list", "work/*").strip() == ""
    worktrees = [
        line for line in git(root, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]  # fmt: skip
    assert len(worktrees) == 2, worktrees  # the repository's own and the integration one


async def test_an_unknown_failpoint_keeps_the_orchestrator_off_and_says_why(
    serving: Serving, tmp_path: Path
) -> None:
    root, _ = workspace(tmp_path)
    served = await serving.serve(root, *ARGS, env=clean_env(**{ENVIRONMENT: "merge.efect"}))
    async with httpx.AsyncClient(base_url=served.loopback, timeout=DEADLINE) as http:
        response = await http.get("/api/orchestrator")
    await serving.stop(served, signal.SIGTERM)
    assert response.status_code == 200, response.text
    problems = response.json()["problems"]
    assert [p["code"] for p in problems] == ["invalid_request"], problems
    assert "merge.efect" in problems[0]["message"], problems
