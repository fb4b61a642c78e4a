"""``yoi orchestrator`` as a real process against a backend served in the test's own event loop,
over a temporary git repository whose orchestrator runs on the offline model (its state open,
no loop)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.cli.rig import Done, cli_env, run_yoi
from tests.git_repo import git

from yoi.backend import Backend, EmbeddedSource, ModelLabel, Scrubber, create_backend_app
from yoi.backend.orchestration import NO_MODEL, OrchestratorOptions
from yoi.backend.profiles import workspace_bundle
from yoi.orchestrator import Phase, Run, state_path
from yoi.orchestrator.policy_decision import Routing
from yoi.orchestrator.records import AcceptedPlan, TicketRecorder
from yoi.orchestrator.records_decision import DecisionRecord
from yoi.orchestrator.state import OrchestratorState
from yoi.runtime import Runtime
from yoi.server.listen import listening
from yoi.tickets import RelationKind, State, TicketStore
from yoi.tools.intent import IntentPacket
from yoi.workspace import Workspace

TOKEN = "orchestrator-cli-token-never-printed"
PERSON = "ann"


@dataclass
class Served:
    url: str
    root: Path

    async def yoi(self, *args: str) -> Done:
        """``yoi orchestrator --backend URL ARGS`` in the workspace, with the token."""
        return await run_yoi(
            "orchestrator", "--backend", self.url, *args, cwd=self.root, env=cli_env(TOKEN)
        )

    async def api(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers) as http:
            response = await http.get(path)
        assert response.status_code == 200, response.text
        return response.json()


@asynccontextmanager
async def served(root: Path, *, on: bool = True) -> AsyncIterator[Served]:
    options = OrchestratorOptions(root=root, model_problem=NO_MODEL) if on else None
    async with (
        Runtime(runtime_id="backend-internal") as intake,
        Runtime(runtime_id="local") as work,
    ):
        backend = Backend(
            runtime=intake,
            bundle=workspace_bundle(Workspace(root)),
            model=ModelLabel("scripted:offline", offline=True),
            remotes=[EmbeddedSource(work)],
            scrubber=Scrubber([str(root)]),
            tickets=TicketStore.for_workspace(root),
            ticket_author=PERSON,
            orchestrator=options,
        )
        app = create_backend_app(backend, token=TOKEN)
        async with backend, listening(app, "127.0.0.1", 0) as listener:
            yield Served(listener.url, root)


def repository(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    return root


def queued(store: TicketStore, title: str) -> str:
    ticket = store.create(title, "Do it.\n", author=PERSON).id
    store.move(ticket, State.READY, author=PERSON)
    store.move(ticket, State.QUEUED, author=PERSON)
    return ticket


def seeded(root: Path) -> tuple[str, str, str]:
    """A ticket whose run is in review (round 2), one a person works on, and a queued one
    that depends on that."""
    store = TicketStore.for_workspace(root)
    running = queued(store, "Build the thing")
    now = time.time()
    run = Run(
        ticket_id=running,
        attempt=1,
        phase=Phase.REVIEWING,
        started_at=now,
        updated_at=now,
        branch=f"work/{running}-build",
        review_round=2,
    )
    state_path(root).parent.mkdir(parents=True, exist_ok=True)
    with OrchestratorState.open(state_path(root)) as state:
        state.save(run)
    first = queued(store, "Lay the groundwork")
    store.move(first, State.INPROGRESS, author=PERSON)
    second = store.create("Build on it", "Second.\n", author=PERSON).id
    store.add_relation(second, RelationKind.DEPENDS_ON, first, author=PERSON)
    store.move(second, State.READY, author=PERSON)
    store.move(second, State.QUEUED, author=PERSON)
    return running, first, second


async def test_status_prints_runs_then_waiting_tickets_then_problems(tmp_path: Path) -> None:
    root = repository(tmp_path)
    running, _, waiting = seeded(root)
    async with served(root) as backend:
        human = await backend.yoi("status")
        as_json = await backend.yoi("status", "--json")
        status = await backend.api("/api/orchestrator")
    assert (human.code, human.err) == (0, "")
    [wait] = status["waiting"]
    assert human.out.splitlines() == [
        f"{running}  reviewing  round 2  Build the thing",
        f"{waiting}  waiting  {wait['sentence']}",
        f"problem no_model: {NO_MODEL}",
    ]
    assert as_json.code == 0
    assert json.loads(as_json.out) == status
    assert str(root) not in human.out + as_json.out


async def test_status_says_when_the_orchestrator_is_off(tmp_path: Path) -> None:
    root = repository(tmp_path)
    async with served(root, on=False) as backend:
        done = await backend.yoi("status")
    assert (done.code, done.out) == (0, "the orchestrator is off\n")


async def test_explain_prints_the_sentence_then_one_line_per_reason(tmp_path: Path) -> None:
    root = repository(tmp_path)
    _, first, waiting = seeded(root)
    async with served(root) as backend:
        human = await backend.yoi("explain", waiting.lower())
        as_json = await backend.yoi("explain", waiting, "--json")
        explained = await backend.api(f"/api/tickets/{waiting}/explain")
    assert human.code == 0, human.err
    [reason] = explained["reasons"]
    assert human.out.splitlines() == [
        explained["sentence"],
        f"  {reason['code']} {first}: {reason['detail']}",
    ]
    assert json.loads(as_json.out) == explained
    assert explained["decision"]["routing"] == "blocked_by_dependency_or_missing_authority"


async def test_stop_prints_the_stopped_run_and_refusals_are_typed(tmp_path: Path) -> None:
    root = repository(tmp_path)
    running, _, waiting = seeded(root)
    async with served(root) as backend:
        no_run = await backend.yoi("stop", waiting)
        bad = await backend.yoi("explain", "not-a-ticket")
        stopped = await backend.yoi("stop", running, "--by", "bo", "--json")
        again = await backend.yoi("retry", running)
    assert no_run.code == 1
    assert no_run.err.startswith("yoi: invalid_request: ")
    assert bad.code == 1
    assert bad.err.startswith("yoi: invalid_ticket_id: ")
    assert stopped.code == 0, stopped.err
    run = json.loads(stopped.out)
    assert (run["ticket_id"], run["phase"], run["stop_reason"]) == (
        running,
        "stopped",
        "stopped_by_person",
    )
    assert again.code == 1  # the ticket is still queued, not in progress
    assert again.err.startswith("yoi: invalid_transition: ")
    thread = (root / ".yoi" / "tickets" / running / "thread.md").read_text(encoding="utf-8")
    assert "stopped by bo" in thread


def accepted(root: Path) -> str:
    """A ticket the orchestrator accepted: its plan, decision with packet and move recorded."""
    store = TicketStore.for_workspace(root)
    try:
        ticket = queued(store, "Greet in French")
        packet = IntentPacket(intent=("greet",), requirements=("say bonjour",))
        decision = DecisionRecord(Routing.IMPLEMENTATION_READY, ("ready",), intent=packet)
        branch = f"work/{ticket}-greet-in-french"
        plan = AcceptedPlan("greet", branch, Path(".worktree") / f"{ticket.lower()}-greet")
        TicketRecorder(store).accept(ticket, decision, plan)
    finally:
        store.close()
    return ticket


async def test_rebuild_makes_the_state_again_and_refuses_while_it_is_held_or_not_lost(
    tmp_path: Path,
) -> None:
    root = repository(tmp_path)
    ticket = accepted(root)
    async with served(root) as backend:
        held = await backend.yoi("rebuild")
    assert held.code != 0
    assert "another yoi orchestrator" in held.err
    state_path(root).unlink()
    made = await run_yoi("orchestrator", "rebuild", "--json", cwd=root, env=cli_env(TOKEN))
    assert made.code == 0, made.err
    assert json.loads(made.out) == {
        "runs": [{"ticket_id": ticket, "phase": "implementing"}],
        "skipped": [],
    }
    again = await run_yoi("orchestrator", "rebuild", cwd=root, env=cli_env(TOKEN))
    assert again.code != 0
    assert "not lost" in again.err
    with OrchestratorState.open(state_path(root)) as state:
        run = state.run(ticket)
    assert run is not None
    assert run.branch == f"work/{ticket}-greet-in-french"


def gated(root: Path) -> str:
    """A ticket in progress whose run waits at the plan gate."""
    store = TicketStore.for_workspace(root)
    ticket = queued(store, "Greet in French")
    store.move(ticket, State.INPROGRESS, author=PERSON)
    now = time.time()
    run = Run(ticket, 1, Phase.IMPLEMENTING, now, now, branch=f"work/{ticket}-greet", gate="plan")
    state_path(root).parent.mkdir(parents=True, exist_ok=True)
    with OrchestratorState.open(state_path(root)) as state:
        state.save(run)
    return ticket


async def test_a_run_at_a_gate_is_shown_approved_and_a_wrong_gate_refused(tmp_path: Path) -> None:
    root = repository(tmp_path)
    ticket = gated(root)
    async with served(root) as backend:
        status = await backend.yoi("status")
        wrong = await backend.yoi("approve", ticket, "--gate", "merge")
        approved = await backend.yoi("approve", ticket, "--gate", "plan", "--note", "Use tu")
        after = await backend.yoi("status", "--json")
    assert status.code == 0, status.err
    assert (
        f"{ticket}  implementing  round 0  Greet in French  [awaiting_plan_approval]" in status.out
    )
    assert f"yoi orchestrator approve|reject {ticket} --gate plan" in status.out
    assert wrong.code == 1
    assert wrong.err.startswith("yoi: invalid_transition: ")
    assert approved.code == 0, approved.err
    [run] = json.loads(after.out)["runs"]
    assert (run["gate"], run["reason"]) == (None, None)
    thread = (root / ".yoi" / "tickets" / ticket / "thread.md").read_text(encoding="utf-8")
    assert "Plan gate approved by" in thread
    assert "Use tu" in thread


async def test_reject_returns_the_ticket_to_planning(tmp_path: Path) -> None:
    root = repository(tmp_path)
    ticket = gated(root)
    async with served(root) as backend:
        rejected = await backend.yoi("reject", ticket, "--gate", "plan", "--by", "bo", "--json")
    assert rejected.code == 0, rejected.err
    run = json.loads(rejected.out)
    assert (run["phase"], run["stop_reason"]) == ("stopped", "gate_rejected")
    assert TicketStore.for_workspace(root).get(ticket).meta.state is State.PLANNING
