"""One queued ticket through the real loop on scripted models: accepted through the intake,
implemented and committed by a coder in its own worktree, approved by a reviewer, merged,
validated, done and cleaned up — every step recorded on the ticket, in order."""

from __future__ import annotations

from pathlib import Path

from tests.git_repo import git
from tests.orchestrator.stack import make_repository, orchestrator_stack, queue

from yoi.orchestrator.run_record import Phase
from yoi.providers.script import Call, Step, Text
from yoi.providers.scripted import ScriptedModel
from yoi.tickets import State
from yoi.tickets.model import EventKind

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
    show = git(root, "show", "orchestration:app.py")
    assert show == "print('bonjour')\n"
    assert "merge: " in git(root, "log", "-1", "--format=%s", "orchestration")
    assert git(root, "branch", "--list", "work/*").strip() == ""
    listed = git(root, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 2  # the checkout and .worktree/orchestration
    assert (root / "app.py").read_text() == "print('one')\n"  # the person's checkout
    intake.assert_consumed()
    work.assert_consumed()
