"""The load scenario through the backend: forty queued tickets in a forest of ``depends_on``
trees, eight at a time, on an in-process backend on a real socket. Two boards watch
``WS /api/orchestrator/events/ws``: one from before the first ticket to the last ``done``,
one that drops its connection now and then and comes back with ``?cursor=`` of the last
frame it read. Each hears every phase change of every run exactly once and in order, the
same transitions the orchestrator's log holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.backend.rig import OFFLINE
from tests.orchestrator.stack import PERSON, make_repository
from tests.orchestrator.test_load import (
    DELAY,
    MAX_PARALLEL,
    PHASES,
    SlowDemo,
    check_dependency_order,
    check_histories,
    forest,
    most_in_flight,
)
from websockets.asyncio.client import ClientConnection, connect

from yoi.backend import Backend, EmbeddedSource, Scrubber, create_backend_app
from yoi.backend.orchestration import OrchestratorOptions
from yoi.backend.profiles import workspace_bundle
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.server.listen import listening
from yoi.tickets import State, TicketStore
from yoi.tools.sandbox import SandboxMode
from yoi.workspace import Workspace

DEADLINE = 120.0
TICKETS = 40
EXPECTED = TICKETS * len(PHASES)
DROP_EVERY = 45  # the second board reconnects after this many transitions

Frame = dict[str, Any]


@asynccontextmanager
async def served_backend(root: Path) -> AsyncIterator[tuple[Orchestrator, str, TicketStore]]:
    """A backend over ``root`` with its orchestrator at eight in parallel, on the demo model
    answering after a small delay; its orchestrator, its events URL and its tickets."""
    model = SlowDemo(DELAY)
    tickets = TicketStore.for_workspace(root)
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True, spares=2)
    settings = OrchestratorSettings(max_parallel=MAX_PARALLEL, pass_interval=1.0)
    options = OrchestratorOptions(root=root, settings=settings, sandbox=SandboxMode.NONE)
    async with Runtime(runtime_id="local", model=model, workdirs=workdirs) as work:
        backend = Backend(
            runtime=Runtime(runtime_id="backend-internal", model=model),
            bundle=workspace_bundle(Workspace(root)),
            model=OFFLINE,
            remotes=[EmbeddedSource(work)],
            scrubber=Scrubber([str(root)]),
            tickets=tickets,
            ticket_author=PERSON,
            orchestrator=options,
        )
        async with backend, listening(create_backend_app(backend), "127.0.0.1", 0) as served:
            orchestrator = backend.orchestration.orchestrator
            assert orchestrator is not None
            url = f"ws://127.0.0.1:{served.port}/api/orchestrator/events/ws"
            yield orchestrator, url, tickets


async def next_frame(connection: ClientConnection) -> Frame:
    frame: Frame = json.loads(await connection.recv())
    assert frame["kind"] == "event", frame
    return frame


async def next_transition(connection: ClientConnection) -> dict[str, Any]:
    """The next frame, a transition, as :meth:`Transition.to_dict` gives it."""
    frame = await next_frame(connection)
    event = dict(frame["event"])
    assert event.pop("type") == "transition", frame
    return {"cursor": frame["cursor"], "seq": frame["seq"], **event, "at": frame["at"]}


async def board(url: str, started: asyncio.Event) -> list[dict[str, Any]]:
    """Everything a board hears from a snapshot taken before any ticket runs on."""
    async with connect(url, open_timeout=10) as connection:
        snapshot = await next_frame(connection)
        assert snapshot["event"]["type"] == "snapshot"
        assert snapshot["event"]["status"]["runs"] == []
        started.set()
        return [await next_transition(connection) for _ in range(EXPECTED)]


async def dropping_board(url: str, cursor: str) -> list[dict[str, Any]]:
    """Everything a board hears after ``cursor``, dropping the connection every
    ``DROP_EVERY`` transitions and resuming by the cursor of the last one it read."""
    heard: list[dict[str, Any]] = []
    while len(heard) < EXPECTED:
        resumed = f"{url}?cursor={quote(cursor, safe='')}"
        async with connect(resumed, open_timeout=10) as connection:
            for _ in range(min(DROP_EVERY, EXPECTED - len(heard))):
                heard.append(await next_transition(connection))
        cursor = heard[-1]["cursor"]
    return heard


async def test_two_boards_hear_every_transition_of_forty_tickets_once(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    async with served_backend(root) as (orchestrator, url, tickets):
        started = asyncio.Event()
        first = asyncio.create_task(board(url, started))
        async with asyncio.timeout(10):
            await started.wait()
        second = asyncio.create_task(dropping_board(url, orchestrator.cursor()))
        parents = forest(tickets)
        orchestrator.wake()
        async with asyncio.timeout(DEADLINE):
            heard, resumed = await first, await second
        logged = [t.to_dict() for t in orchestrator.transitions(None, limit=10_000)]
        states = {ticket: tickets.get(ticket).meta.state for ticket in parents}
        runs = {ticket: orchestrator.run(ticket) for ticket in parents}
    assert states == dict.fromkeys(parents, State.DONE)
    assert heard == logged
    assert resumed == logged
    check_histories(heard, parents)
    assert most_in_flight(heard) <= MAX_PARALLEL
    bases = {ticket: str(run and run.base_commit) for ticket, run in runs.items()}
    check_dependency_order(heard, parents, root, bases)
