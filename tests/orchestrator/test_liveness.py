"""Liveness: a silent worker is cancelled at its phase's stall timeout and tried again after
a backoff; a tool call that runs long is not silence; tries run out into a suppressed run that
stays put; a retry checks the ticket may still go on before it starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from tests.git_repo import git
from tests.orchestrator.stack import make_repository, orchestrator_stack, queue
from tests.orchestrator.test_loop import coder_turns, finish, intake_turns, review_turns

from yoi.engine.model import ModelChunk, ModelRequest
from yoi.orchestrator.budget_settings import Budgets
from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.settings import OrchestratorSettings, PhaseTimeouts
from yoi.providers.script import Call, Stall, Step, Usage
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import WorkerStatus
from yoi.runtime.transcript import Role
from yoi.tickets import RelationKind, State

QUICK = OrchestratorSettings(
    pass_interval=0.5,
    retry_backoff=0.05,
    timeouts=PhaseTimeouts(implement=0.5, review=5.0),
)


class Heard:
    """A model that says when it is first asked."""

    name = "scripted:heard"

    def __init__(self, inner: ScriptedModel) -> None:
        self.inner = inner
        self.asked = asyncio.Event()

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        self.asked.set()
        async for chunk in self.inner.stream(request):
            yield chunk


async def test_a_silent_coder_is_cancelled_and_asked_again(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    stalled: list[list[Step]] = [[Stall()]]
    work = ScriptedModel([*stalled, *coder_turns(), *review_turns()])
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work, settings=QUICK
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        thread = [e.body for e in stack.tickets.get(ticket).events]
        assert run.coder_worker_id is not None
        transcript = await stack.work.transcript(run.coder_worker_id)
    assert run.phase is Phase.DONE, run.stop_reason
    retries = [body for body in thread if body.startswith("Retry scheduled: run_stalled")]
    assert len(retries) == 1
    assert "try 2 of 3" in retries[0]
    asks = [e.content.split("\n", 1)[0] for e in transcript.items if e.role is Role.USER]
    assert len(asks) == 2
    assert asks[1].endswith("/code/0#2]")
    work.assert_consumed()


async def test_a_long_tool_call_is_not_silence(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    slow: list[list[Step]] = [[Call("bash", {"command": "sleep 1.5; echo still here"})]]
    work = ScriptedModel([*slow, *coder_turns(), *review_turns()])
    async with orchestrator_stack(
        root,
        intake_model=ScriptedModel(intake_turns()),
        work_model=work,
        settings=QUICK,
        sandbox=True,
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        thread = [e.body for e in stack.tickets.get(ticket).events]
    assert run.phase is Phase.DONE, run.stop_reason
    assert not [body for body in thread if body.startswith("Retry scheduled")]
    work.assert_consumed()


async def test_tries_run_out_into_a_suppressed_run_that_stays_put(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel([[Stall()], [Stall()], [Stall()]])
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work, settings=QUICK
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        stack.orchestrator.wake()
        await stack.orchestrator.settled()  # a pass after it: nothing starts again
        again = stack.run(ticket)
        thread = [e.body for e in stack.tickets.get(ticket).events]
        explained = stack.orchestrator.explain(ticket)
        reasons = [view["reason"] for view in stack.orchestrator.status().runs]
    assert (run.phase, run.stop_reason) == (Phase.FAILED, "suppressed")
    assert reasons == ["suppressed"]
    assert again == run
    assert len([b for b in thread if b.startswith("Retry scheduled: run_stalled")]) == 2
    assert thread[-1].startswith("Run stopped: suppressed")
    assert "failed (suppressed)" in explained.sentence
    work.assert_consumed()


async def test_a_blocker_added_before_a_retry_stops_it_and_says_why(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    work = Heard(ScriptedModel([[Stall()]]))
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work, settings=QUICK
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        other = stack.tickets.create("Design the greeting", "Decide.\n", author="ann").id
        stack.orchestrator.wake()
        async with asyncio.timeout(30):
            await work.asked.wait()  # the coder is at work (and will fall silent)
        stack.tickets.add_relation(ticket, RelationKind.DEPENDS_ON, other, author="ann")
        await stack.until(lambda: stack.run(ticket).phase.over)
        run = stack.run(ticket)
        detail = stack.tickets.get(ticket)
    assert (run.phase, run.stop_reason) == (Phase.STOPPED, "blocked_by_dependency")
    assert detail.meta.state is State.INPROGRESS
    said = detail.events[-1].body
    assert said.startswith("Run stopped: blocked_by_dependency")
    assert other in said
    work.inner.assert_consumed()


async def test_a_budget_crossed_mid_run_cancels_it_with_the_figures(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    spend: list[list[Step]] = [
        [Usage(4_000, 2_000), Call("read_file", {"path": "app.py"})],
        [Stall()],  # it would go on; the budget stops it
    ]
    work = ScriptedModel(spend)
    settings = OrchestratorSettings(pass_interval=0.5, budgets=Budgets(max_tokens=5_000))
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work, settings=settings
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        said = stack.tickets.get(ticket).events[-1].body
        assert run.coder_worker_id is not None
        coder = await stack.work.get_worker(run.coder_worker_id)
        usage = stack.orchestrator.status().runs[0]["usage"]
        reason = stack.orchestrator.status().runs[0]["reason"]
    assert (run.phase, run.stop_reason) == (Phase.STOPPED, "budget_exhausted")
    assert reason == "budget_exhausted"
    assert isinstance(usage, dict)
    assert usage["total"]["input_tokens"] == 4_000
    assert usage["total"]["cost_usd"] is None  # a scripted model has no known price
    assert said.startswith("Run stopped: budget_exhausted")
    assert "used 6000 tokens, over its budget of 5000" in said
    assert coder.status is WorkerStatus.STOPPED
    work.assert_consumed()


async def test_new_runs_wait_while_the_worktrees_exceed_the_disk_budget(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    settings = OrchestratorSettings(pass_interval=0.5, budgets=Budgets(max_worktree_bytes=1))
    async with orchestrator_stack(
        root, intake_model=ScriptedModel([]), work_model=ScriptedModel([]), settings=settings
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        stack.orchestrator.wake()
        await stack.orchestrator.settled()
        waiting = stack.orchestrator.status().waiting
        assert stack.orchestrator.run(ticket) is None
    assert [(w.ticket_id, w.reason) for w in waiting] == [(ticket, "disk_budget")]
    assert "disk_budget" in waiting[0].sentence


async def test_return_to_planning_stops_the_run_and_keeps_its_worktree(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    work = Heard(ScriptedModel([[Stall()]]))
    settings = OrchestratorSettings(pass_interval=0.5)
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work, settings=settings
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        stack.orchestrator.wake()
        async with asyncio.timeout(30):
            await work.asked.wait()  # the coder is at work
        stack.tickets.move(ticket, State.PLANNING, author="ann", reason="rethink")
        stack.orchestrator.wake()  # as the ticket feed does in yoi serve
        async with asyncio.timeout(3):  # its workers are idle within 3 s
            await stack.until(lambda: stack.run(ticket).phase.over)
        run = stack.run(ticket)
        assert run.coder_worker_id is not None
        coder = await stack.work.get_worker(run.coder_worker_id)
        detail = stack.tickets.get(ticket)
        kept = (root / ".worktree" / str(run.workdir_id)).is_dir()  # (a memory ledger's end)
    assert (run.phase, run.stop_reason) == (Phase.STOPPED, "ticket_taken_back")
    assert coder.status is WorkerStatus.STOPPED
    assert detail.meta.state is State.PLANNING
    assert kept
    assert "moved back to planning" in detail.events[-1].body
    work.inner.assert_consumed()


async def test_a_validation_over_its_wall_time_is_suppressed_and_its_merge_taken_back(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel([*coder_turns(), *review_turns()])
    settings = OrchestratorSettings(
        pass_interval=0.5,
        validation=("sleep 30",),
        max_attempts=1,
        timeouts=PhaseTimeouts(validation=0.5),
    )
    async with orchestrator_stack(
        root,
        intake_model=ScriptedModel(intake_turns()),
        work_model=work,
        settings=settings,
        sandbox=True,
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        said = stack.tickets.get(ticket).events[-1].body
    assert (run.phase, run.stop_reason) == (Phase.FAILED, "suppressed")
    assert "validation ran for more than 0.5 s in all" in said
    assert "merge: " not in git(root, "log", "--format=%s", "orchestration")
    on = git(root / ".worktree" / "orchestration", "symbolic-ref", "--short", "HEAD").strip()
    assert on == "orchestration"  # the waiting merge was taken back
