"""One queued ticket through the real loop on scripted models: accepted through the intake,
implemented and committed by a coder in its own worktree, approved by a reviewer, merged,
validated, done and cleaned up — every step recorded on the ticket, in order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.git_repo import git
from tests.orchestrator.stack import Stack, make_repository, orchestrator_stack, queue

from yoi.orchestrator.run_record import Phase
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.script import Call, Step, Text
from yoi.providers.scripted import ScriptedModel
from yoi.tickets import State
from yoi.tickets.model import EventKind, ThreadEvent

INTENT = {
    "implementation_ready": True,
    "intent": ["greet in French"],
    "binding_decisions": ["keep app.py runnable"],
    "requirements": ["app.py prints bonjour"],
    "implementation_latitude": ["any wording"],
    "escalate_if": ["app.py is gone"],
    "validation": ["python app.py"],
    "reviewer_focus": ["the greeting"],
}


def intake_turns() -> list[list[Step]]:
    return [[Call("submit_intent", INTENT)], [Text("Ready.")]]


def coder_turns(content: str = "print('bonjour')\n") -> list[list[Step]]:
    return [
        [Call("read_file", {"path": "app.py"})],
        [Call("write_file", {"path": "app.py", "content": content})],
        [Call("git_commit", {"message": "Greet in French", "all": True})],
        [Call("submit_report", {"summary": "French", "files": ["app.py"], "commands": []})],
        [Text("Done.")],
    ]


def review_turns(verdict: str = "approve") -> list[list[Step]]:
    finding = {"severity": "major", "file": "app.py", "message": "Say it twice"}
    findings = [finding] if verdict == "request_changes" else []
    review = {"verdict": verdict, "summary": "Looks right.", "findings": findings}
    return [[Call("submit_review", review)], [Text("Reviewed.")]]


async def test_a_queued_ticket_goes_to_done_through_every_step(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    intake = ScriptedModel(intake_turns())
    work = ScriptedModel([*coder_turns(), *review_turns()])
    async with orchestrator_stack(root, intake_model=intake, work_model=work) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        stack.orchestrator.wake()
        await stack.until(
            lambda: stack.orchestrator.run(ticket) is not None and stack.run(ticket).phase.over
        )
        run = stack.run(ticket)
        thread = [e.body for e in stack.tickets.get(ticket).events]
        assert run.phase is Phase.DONE, "\n----\n".join(thread)
        detail = stack.tickets.get(ticket)
    assert detail.meta.state is State.DONE
    kinds = [event.kind for event in detail.events]
    assert EventKind.DECISION in kinds
    assert EventKind.REVIEW in kinds
    assert story(detail.events) == STORY
    show = git(root, "show", "orchestration:app.py")
    assert show == "print('bonjour')\n"
    assert "merge: " in git(root, "log", "-1", "--format=%s", "orchestration")
    assert git(root, "branch", "--list", "work/*").strip() == ""
    listed = git(root, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 2  # the checkout and .worktree/orchestration
    assert (root / "app.py").read_text() == "print('one')\n"  # the person's checkout
    intake.assert_consumed()
    work.assert_consumed()


STORY = [
    "decision: implementation_ready",
    "moved to inprogress",
    "kickoff",
    "implementation report",
    "review",
    "integration report",
    "moved to done",
    "cleanup",
]
"""What a ticket's thread tells of a run that went straight to done, in order."""


def story(events: Sequence[ThreadEvent]) -> list[str]:
    """What the orchestrator wrote on a thread, in order, one short line each."""
    told = []
    for event in events:
        first = event.body.split("\n", 1)[0]
        if event.kind == EventKind.DECISION:
            told.append(f"decision: {first.removeprefix('Routing decision: ')}")
        elif event.kind == EventKind.STATE_CHANGED and event.author == "orchestrator":
            told.append(f"moved to {first.rstrip('.`').rsplit('`', 1)[-1]}")
        elif event.kind == EventKind.REVIEW:
            told.append("review")
        elif event.kind == EventKind.IMPLEMENTATION_REPORT:
            told.append(_REPORTS.get(first, first))
    return told


_REPORTS = {
    "Implementation kickoff:": "kickoff",
    "Implementation report:": "implementation report",
    "Integration / validation report:": "integration report",
    "Cleanup report:": "cleanup",
}


def fix_turns(path: str, content: str, message: str = "Fix") -> list[list[Step]]:
    return [
        [Call("write_file", {"path": path, "content": content})],
        [Call("git_commit", {"message": message, "all": True})],
        [Call("submit_report", {"summary": message, "files": [path], "commands": []})],
        [Text("Fixed.")],
    ]


def bodies(stack: Stack, ticket: str) -> list[str]:
    return [event.body for event in stack.tickets.get(ticket).events]


async def finish(stack: Stack, ticket: str) -> None:
    stack.orchestrator.wake()
    await stack.until(
        lambda: stack.orchestrator.run(ticket) is not None and stack.run(ticket).phase.over
    )


async def test_changes_requested_go_back_to_the_coder_and_a_new_commit_is_reviewed(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel(
        [
            *coder_turns(),
            *review_turns("request_changes"),
            *fix_turns("app.py", "print('bonjour')\nprint('bonjour')\n", "Say it twice"),
            *review_turns("approve"),
        ]
    )
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        thread = bodies(stack, ticket)
    assert run.phase is Phase.DONE, "\n----\n".join(thread)
    assert run.review_round == 2
    reviews = [body for body in thread if body.startswith("Review")]
    assert len(reviews) == 2
    assert "request" in reviews[0].lower()
    assert run.approved_commit is not None
    assert run.approved_commit[:12] in reviews[1]
    assert git(root, "show", "orchestration:app.py").count("bonjour") == 2
    work.assert_consumed()


async def test_a_report_that_claims_work_without_a_commit_is_sent_back(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    claims: list[list[Step]] = [
        [Call("submit_report", {"summary": "Done", "files": ["app.py"], "commands": []})],
        [Text("All done.")],
    ]
    work = ScriptedModel(
        [
            *claims,
            [Call("read_file", {"path": "app.py"})],
            *fix_turns("app.py", "print('bonjour')\n", "Greet in French"),
            *review_turns("approve"),
        ]
    )
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        thread = bodies(stack, ticket)
    assert run.phase is Phase.DONE, "\n----\n".join(thread)
    reports = [body for body in thread if body.startswith("Implementation report")]
    assert "Commits:\n- none" in reports[0]
    assert run.fix_rounds == 1
    work.assert_consumed()


async def test_a_failing_validation_undoes_the_merge_and_sends_the_log_back(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel(
        [
            *coder_turns(),
            *review_turns("approve"),
            *fix_turns("ok.txt", "fine\n", "Add ok.txt"),
            *review_turns("approve"),
        ]
    )
    settings = OrchestratorSettings(
        pass_interval=0.5, validation=("test -f ok.txt || (echo ok.txt is missing; exit 3)",)
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
        thread = bodies(stack, ticket)
    assert run.phase is Phase.DONE, "\n----\n".join(thread)
    assert run.fix_rounds == 1
    merges = git(root, "log", "--merges", "--format=%s", "orchestration").splitlines()
    assert len(merges) == 1  # the red merge was undone, not kept
    logs = sorted((root / ".yoi" / "tickets" / ticket / "artifacts" / "validation").iterdir())
    assert "ok.txt is missing" in logs[0].read_text()
    work.assert_consumed()


async def test_review_rounds_run_out_and_the_run_stops_saying_so(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "repo")
    work = ScriptedModel([*coder_turns(), *review_turns("request_changes")])
    settings = OrchestratorSettings(pass_interval=0.5, max_review_rounds=1)
    async with orchestrator_stack(
        root, intake_model=ScriptedModel(intake_turns()), work_model=work, settings=settings
    ) as stack:
        ticket = queue(stack.tickets, "Greet in French")
        await finish(stack, ticket)
        run = stack.run(ticket)
        thread = bodies(stack, ticket)
        state = stack.tickets.get(ticket).meta.state
    assert (run.phase, run.stop_reason) == (Phase.STOPPED, "review_rounds_exhausted")
    assert thread[-1].startswith("Run stopped: review_rounds_exhausted")
    assert state is State.INPROGRESS  # a person retries, stops or returns it
    assert "merge: " not in git(root, "log", "--format=%s", "orchestration")
    work.assert_consumed()
