"""Plan and merge gates on the real loop and scripted models: a run parks with what a person
decides on, goes on when approved, and returns its ticket to planning when rejected; a
restart neither asks twice nor forgets; the transitions log tells it all, once, in order."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from tests.git_repo import git
from tests.orchestrator.stack import Stack, make_repository, orchestrator_stack, queue
from tests.orchestrator.test_loop import coder_turns, intake_turns, review_turns

from yoi.errors import InvalidRequest, InvalidTransition
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.run_record import GATE_REJECTED, Phase
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.scripted import ScriptedModel
from yoi.runtime.transcript import Role
from yoi.tickets import State

PLAN = OrchestratorSettings(pass_interval=0.5, plan_gate=True)
MERGE = OrchestratorSettings(pass_interval=0.5, merge_gate=True)


def stack_of(
    root: Path, settings: OrchestratorSettings, *, work: ScriptedModel | None = None
) -> AbstractAsyncContextManager[Stack]:
    model = work or ScriptedModel([*coder_turns(), *review_turns()])
    return orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=model, settings=settings
    )


async def parked(stack: Stack, ticket: str, gate: str) -> None:
    stack.orchestrator.wake()
    await stack.until(
        lambda: stack.orchestrator.run(ticket) is not None and stack.run(ticket).gate == gate
    )


async def over(stack: Stack, ticket: str) -> None:
    await stack.until(lambda: stack.run(ticket).phase.over)


def view_of(stack: Stack, ticket: str) -> dict[str, object]:
    runs = stack.orchestrator.status().to_dict()["runs"]
    assert isinstance(runs, list)
    return next(run for run in runs if run["ticket_id"] == ticket)


def bodies(stack: Stack, ticket: str) -> list[str]:
    return [event.body for event in stack.tickets.get(ticket).events]


async def test_a_plan_gate_parks_before_any_coder_and_an_approval_with_a_note_reaches_it(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    async with stack_of(root, PLAN) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await parked(stack, ticket, "plan")
        view = view_of(stack, ticket)
        assert view["reason"] == "awaiting_plan_approval"
        gate = view["gate"]
        assert isinstance(gate, dict)
        assert gate["gate"] == "plan"
        assert "greet in French" in str(gate["dossier"])
        assert stack.tickets.get(ticket).meta.state is State.INPROGRESS
        assert (await stack.work.list_workers()).items == ()  # no coder before the approval
        with pytest.raises(InvalidTransition):
            await stack.orchestrator.gate(ticket, "merge", "approve", by="ann")
        with pytest.raises(InvalidRequest):
            await stack.orchestrator.gate(ticket, "plan", "maybe", by="ann")
        await stack.orchestrator.gate(ticket, "plan", "approve", by="ann", note="Use tu.")
        await over(stack, ticket)
        run = stack.run(ticket)
        coder = run.coder_worker_id
        assert coder is not None
        first = (await stack.work.transcript(coder)).items[0]
        thread = bodies(stack, ticket)
    assert run.phase is Phase.DONE, "\n----\n".join(thread)
    assert run.gate is None
    assert first.role is Role.USER
    assert first.content.endswith("Use tu.")
    assert sum(body.startswith("Awaiting plan approval") for body in thread) == 1
    assert sum(body.startswith("Plan gate approved by ann") for body in thread) == 1


async def test_a_rejected_plan_returns_the_ticket_to_planning(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel([])
    async with stack_of(root, PLAN, work=work) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await parked(stack, ticket, "plan")
        run = await stack.orchestrator.gate(ticket, "plan", "reject", by="ann", note="Too big")
        await stack.orchestrator.settled()
        detail = stack.tickets.get(ticket)
        explained = stack.orchestrator.explain(ticket)
    assert run.phase is Phase.STOPPED
    assert run.stop_reason == GATE_REJECTED
    assert run.gate is None
    assert detail.meta.state is State.PLANNING
    assert any("Too big" in event.body for event in detail.events)
    assert explained.state is State.PLANNING


async def test_a_merge_gate_shows_a_dossier_and_moves_nothing_until_approved(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    async with stack_of(root, MERGE) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await parked(stack, ticket, "merge")
        before = git(root, "rev-parse", "orchestration")
        view = view_of(stack, ticket)
        gate = view["gate"]
        assert isinstance(gate, dict)
        dossier = str(gate["dossier"])
        assert view["reason"] == "awaiting_merge_approval"
        assert stack.run(ticket).phase is Phase.MERGING
        await stack.orchestrator.gate(ticket, "merge", "approve", by="ann")
        await over(stack, ticket)
        run = stack.run(ticket)
        after = git(root, "rev-parse", "orchestration")
    for section in (
        "Status:",
        "Scope:",
        "Intent check:",
        "Implementation summary:",
        "Review:",
        "Validation:",
        "Residual risk:",
    ):
        assert section in dossier, dossier
    assert "`app.py` +1 -1" in dossier
    assert "> French" in dossier
    assert "> Looks right." in dossier
    assert "app.py prints bonjour" in dossier
    assert run.phase is Phase.DONE
    assert before != after
    assert git(root, "show", "orchestration:app.py") == "print('bonjour')\n"


async def test_a_rejected_merge_keeps_the_worktree_and_the_branch_unmoved(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    async with stack_of(root, MERGE) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await parked(stack, ticket, "merge")
        before = git(root, "rev-parse", "orchestration")
        run = await stack.orchestrator.gate(ticket, "merge", "reject", by="ann")
        state = stack.tickets.get(ticket).meta.state
        worktree = root / ".worktree" / str(run.workdir_id)
        assert run.coder_worker_id is not None
        coder = await stack.work.get_worker(run.coder_worker_id)
    assert run.stop_reason == GATE_REJECTED
    assert state is State.PLANNING
    assert worktree.is_dir()
    assert str(coder.status) != "running"
    assert git(root, "rev-parse", "orchestration") == before


async def test_a_restart_while_parked_stays_parked_and_asks_once(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    async with stack_of(root, PLAN) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await parked(stack, ticket, "plan")
        await stack.orchestrator.aclose()
        hosts = StaticHosts({"backend-internal": stack.intake, "local": stack.work})
        again = Orchestrator(root=root, tickets=stack.tickets, hosts=hosts, settings=PLAN)
        async with again:
            restarted = dataclasses.replace(stack, orchestrator=again)
            await parked(restarted, ticket, "plan")
            assert view_of(restarted, ticket)["reason"] == "awaiting_plan_approval"
            await again.gate(ticket, "plan", "approve", by="ann")
            await over(restarted, ticket)
            run = restarted.run(ticket)
            thread = bodies(restarted, ticket)
            kinds = [(t.kind.value, t.to, t.gate) for t in again.transitions()]
    assert run.phase is Phase.DONE
    assert sum(body.startswith("Awaiting plan approval") for body in thread) == 1
    assert kinds == [
        ("phase", "accepting", None),
        ("phase", "implementing", None),
        ("gate", "open", "plan"),
        ("gate", "approved", "plan"),
        ("phase", "reviewing", None),
        ("phase", "merging", None),
        ("phase", "validating", None),
        ("phase", "cleaning_up", None),
        ("phase", "done", None),
    ]
