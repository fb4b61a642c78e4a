"""The orchestrator as a person uses it: one per workspace, stop, explain, retry."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.git_repo import git
from tests.orchestrator.stack import make_repository, orchestrator_stack, queue
from tests.orchestrator.test_loop import INTENT, coder_turns, intake_turns, review_turns

from yoi.errors import InvalidTransition, StoreLocked
from yoi.orchestrator.hosts import StaticHosts
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.service import Orchestrator
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.providers.script import Call, Stall, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import Runtime, WorkerStatus
from yoi.tickets import State, TicketStore
from yoi.tickets.model import EventKind


async def test_a_second_orchestrator_on_the_same_workspace_is_refused(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    async with orchestrator_stack(
        root, intake_model=ScriptedModel([]), work_model=ScriptedModel([])
    ) as stack:
        second = Orchestrator(root=root, tickets=stack.tickets, hosts=StaticHosts({}))
        with pytest.raises(StoreLocked, match="another yoi orchestrator"):
            await second.open()
        await second.aclose()


async def test_a_stopped_run_keeps_its_worktree_says_who_and_is_retried(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel([[Stall()], *coder_turns(), *review_turns()])
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        stack.orchestrator.wake()
        await stack.until(lambda: work.remaining == len(coder_turns()) + len(review_turns()))
        stopped = await stack.orchestrator.stop(ticket, by="ann")
        assert stopped.phase is Phase.STOPPED
        assert stopped.stop_reason == "stopped_by_person"
        assert stopped.coder_worker_id is not None
        coder = await stack.work.get_worker(stopped.coder_worker_id)
        assert coder.status is WorkerStatus.STOPPED
        assert (root / ".worktree" / str(stopped.workdir_id)).is_dir()
        said = stack.tickets.get(ticket).events[-1].body
        assert "stopped by ann" in said
        explained = stack.orchestrator.explain(ticket)
        assert "stopped (stopped_by_person)" in explained.sentence
        with pytest.raises(InvalidTransition):
            await stack.orchestrator.stop(ticket, by="ann")
        again = await stack.orchestrator.retry(ticket, by="ann")
        assert (again.attempt, again.phase) == (2, Phase.IMPLEMENTING)
        await stack.until(lambda: stack.run(ticket).phase.over)
        finished = stack.run(ticket)
        state = stack.tickets.get(ticket).meta.state
    assert finished.phase is Phase.DONE, finished.stop_reason
    assert finished.coder_worker_id is not None
    assert finished.coder_worker_id.endswith("-a2")
    assert state is State.DONE
    work.assert_consumed()


async def test_a_retry_is_refused_while_no_model_can_do_the_work(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    tickets = TicketStore(root / ".yoi" / "tickets")
    ticket = queue(tickets, "Greet in French")
    tickets.move(ticket, State.INPROGRESS, author="ann")
    with OrchestratorState.open(state_path(root)) as state:
        state.save(Run(ticket, 1, Phase.STOPPED, 1.0, 2.0, stop_reason="stopped_by_person"))
    orchestrator = Orchestrator(
        root=root, tickets=tickets, hosts=StaticHosts({}), model_problem="No model is set."
    )
    async with orchestrator:
        with pytest.raises(InvalidTransition, match="No model is set"):
            await orchestrator.retry(ticket, by="ann")
        codes = [p.code for p in orchestrator.status().problems]
        assert codes == ["no_model", "runtime_not_found", "runtime_not_found"]


async def test_a_ticket_the_intake_finds_not_ready_goes_back_to_planning_with_why(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    answer = {**INTENT, "implementation_ready": False, "not_ready_reason": "no acceptance test"}
    intake = ScriptedModel([[Call("submit_intent", answer)], [Text("Not ready.")]])
    async with orchestrator_stack(root, intake_model=intake, work_model=ScriptedModel([])) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        stack.orchestrator.wake()
        await stack.until(
            lambda: stack.orchestrator.run(ticket) is not None and stack.run(ticket).phase.over
        )
        run = stack.run(ticket)
        detail = stack.tickets.get(ticket)
        await stack.orchestrator.settled()
    assert (run.phase, run.stop_reason) == (Phase.STOPPED, "returned_to_planning")
    assert detail.meta.state is State.PLANNING
    decision = [e.body for e in detail.events if e.kind == EventKind.DECISION][-1]
    assert decision.startswith("Routing decision: return_to_planning")
    assert "no acceptance test" in decision
    assert run.coder_worker_id is None  # nothing was made for it


async def test_an_integration_branch_checked_out_elsewhere_is_a_problem_at_start(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    git(root, "checkout", "-q", "-b", "orchestration")
    async with orchestrator_stack(
        root, intake_model=ScriptedModel([]), work_model=ScriptedModel([])
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        status = stack.orchestrator.status()
    assert [problem.code for problem in status.problems] == ["integration_branch_busy"]
    assert [waiting.ticket_id for waiting in status.waiting] == [ticket]
    assert git(root, "symbolic-ref", "--short", "HEAD").strip() == "orchestration"


async def test_a_workspace_without_the_coders_runtime_says_so_and_starts_nothing(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    tickets = TicketStore(root / ".yoi" / "tickets")
    ticket = queue(tickets, "Greet in French")
    intake = ScriptedModel([])
    async with Runtime(runtime_id="backend-internal", model=intake) as embedded:
        hosts = StaticHosts({"backend-internal": embedded})
        async with Orchestrator(root=root, tickets=tickets, hosts=hosts) as orchestrator:
            status = orchestrator.status()
            assert orchestrator.run(ticket) is None
    assert [(p.code, "local" in p.message) for p in status.problems] == [
        ("runtime_not_found", True)
    ]
    assert "runtime_not_found" in status.waiting[0].sentence
