"""``POST /api/orchestrator/runs/{id}/gate`` and ``WS /api/orchestrator/events/ws`` on a real
Backend over a temporary git repository: the stream on a loopback socket, requests through
the ASGI app. The backend runs on the offline model, so its orchestrator opens its state but
starts no run: the runs are seeded, parked at a gate, and decided through the API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.backend.rig import Watch, refusal
from tests.backend.test_orchestrator_api import (
    PERSON,
    Api,
    make_repository,
    offline,
    open_api,
)
from tests.server.asgi import error_of
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from yoi.backend import create_backend_app
from yoi.orchestrator import Phase, Run, state_path
from yoi.orchestrator.operations import OperationKey
from yoi.orchestrator.state import OrchestratorState
from yoi.orchestrator.transitions import encode_cursor
from yoi.runtime.frames import CLOSE_CODES
from yoi.server.listen import listening
from yoi.tickets import State, TicketStore

PATH = "/api/orchestrator/events/ws"


@dataclass
class Served:
    api: Api
    url: str

    @asynccontextmanager
    async def watch(self, query: str = "") -> AsyncIterator[Watch]:
        async with connect(self.url + query, compression=None) as connection:
            yield Watch(connection)


@asynccontextmanager
async def served(root: Path, **settings: object) -> AsyncIterator[Served]:
    async with open_api(root, offline(root, **settings)) as api:
        app = create_backend_app(api.backend)
        async with listening(app, "127.0.0.1", 0) as listener:
            yield Served(api, f"ws://127.0.0.1:{listener.port}{PATH}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_repository(tmp_path / "workspace")


def parked_ticket(root: Path, gate: str = "plan") -> str:
    """A ticket in progress whose run waits at ``gate``."""
    store = TicketStore.for_workspace(root)
    ticket = store.create("Build the thing", "Build it.\n", author=PERSON).id
    for moved in (State.READY, State.QUEUED, State.INPROGRESS):
        store.move(ticket, moved, author=PERSON)
    now = time.time()
    phase = Phase.IMPLEMENTING if gate == "plan" else Phase.MERGING
    run = Run(ticket, 1, phase, now, now, branch=f"work/{ticket}-build", gate=gate)
    state_path(root).parent.mkdir(parents=True, exist_ok=True)
    opened = OperationKey(ticket, 1, f"{gate}_gate_open", 0)
    with OrchestratorState.open(state_path(root)) as state:
        state.save(run)
        state.begin(opened)
        state.finish(opened, {"opened_at": now, "dossier": f"Awaiting {gate} approval: **it**"})
    return ticket


async def test_the_stream_starts_with_a_snapshot_then_hears_a_gate_decided(root: Path) -> None:
    ticket = parked_ticket(root)
    async with served(root) as serve, serve.watch() as watch:
        first = await watch.frame()
        body = {"gate": "plan", "decision": "approve", "note": "Go."}
        run = await serve.api.post(f"/api/orchestrator/runs/{ticket}/gate", body)
        frames = await watch.until("transition")
    assert first["kind"] == "event"
    assert first["event"]["type"] == "snapshot"
    [seen] = first["event"]["status"]["runs"]
    assert seen["reason"] == "awaiting_plan_approval"
    assert seen["gate"]["gate"] == "plan"
    assert seen["gate"]["dossier_html"] == "<p>Awaiting plan approval: <strong>it</strong></p>\n"
    assert run["ticket_id"] == ticket
    [frame] = frames
    assert frame["seq"] > first["seq"]
    assert frame["event"] == {
        "type": "transition",
        "ticket_id": ticket,
        "attempt": 1,
        "kind": "gate",
        "from": None,
        "to": "approved",
        "gate": "plan",
        "reason": None,
    }


async def test_a_cursor_resumes_after_it_without_a_snapshot(root: Path) -> None:
    ticket = parked_ticket(root)
    async with served(root) as serve:
        async with serve.watch() as watch:
            snapshot = await watch.frame()
        await serve.api.post(
            f"/api/orchestrator/runs/{ticket}/gate", {"gate": "plan", "decision": "reject"}
        )
        async with serve.watch(f"?cursor={snapshot['cursor']}") as watch:
            told = [await watch.frame() for _ in range(2)]
    events = [(f["event"]["kind"], f["event"]["to"], f["event"]["reason"]) for f in told]
    assert events == [("phase", "stopped", "gate_rejected"), ("gate", "rejected", None)]
    assert told[0]["seq"] == snapshot["seq"] + 1
    assert told[1]["seq"] == snapshot["seq"] + 2
    assert all(f["event"]["type"] == "transition" for f in told)


@pytest.mark.parametrize(
    ("cursor", "code"),
    [("nonsense", "invalid_cursor"), (encode_cursor("0" * 16, 1), "invalid_cursor")],
)
async def test_a_bad_cursor_gets_a_diagnostic_and_a_close(
    root: Path, cursor: str, code: str
) -> None:
    async with served(root) as serve, serve.watch(f"?cursor={cursor}") as watch:
        frame = await watch.frame()
        closed = await watch.closed()
    assert frame["kind"] == "diagnostic"
    assert frame["code"] == code
    assert closed == CLOSE_CODES[code]


async def test_the_stream_is_observation_only(root: Path) -> None:
    async with served(root) as serve, serve.watch() as watch:
        await watch.frame()
        await watch.connection.send('{"kind": "gate"}')
        frame = await watch.frame()
    assert frame["code"] == "observation_only"


async def test_without_an_orchestrator_the_upgrade_is_refused(root: Path) -> None:
    async with open_api(root, None) as api:
        app = create_backend_app(api.backend)
        async with listening(app, "127.0.0.1", 0) as listener:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{listener.port}{PATH}"):
                    pass
    assert error_of(refusal(refused.value), 501)["code"] == "unsupported_operation"


async def test_a_rejection_returns_the_ticket_to_planning_and_names_who(root: Path) -> None:
    ticket = parked_ticket(root, "merge")
    async with served(root) as serve:
        api = serve.api
        wrong = await api.post(
            f"/api/orchestrator/runs/{ticket}/gate", {"gate": "plan", "decision": "reject"}, 409
        )
        bad = await api.post(
            f"/api/orchestrator/runs/{ticket}/gate", {"gate": "merge", "decision": "yes"}, 400
        )
        body = {"gate": "merge", "decision": "reject", "note": "Not now", "by": "bea"}
        run = await api.post(f"/api/orchestrator/runs/{ticket}/gate", body)
        again = await api.post(f"/api/orchestrator/runs/{ticket}/gate", body, 409)
        detail = api.tickets.get(ticket)
    assert wrong["code"] == "invalid_transition"
    assert bad["code"] == "invalid_request"
    assert (run["phase"], run["stop_reason"]) == ("stopped", "gate_rejected")
    assert again["code"] == "invalid_transition"
    assert detail.meta.state is State.PLANNING
    said = [e.body for e in detail.events if e.author == "orchestrator"]
    assert any(body.startswith("Merge gate rejected by bea") and "Not now" in body for body in said)
    assert sum(body.startswith("Run stopped: gate_rejected") for body in said) == 1
