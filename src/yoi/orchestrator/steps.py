"""The steps of one ticket's run, phase by phase: accept, implement, review (then
:mod:`~yoi.orchestrator.steps_merge`: merge, validate, clean up).

Each phase is written to be run again from its start after a restart: every side effect is
a step keyed by an operation id (done steps give their recorded result and do nothing), and
what a phase decides next is computed from those results, never from memory. Rounds number
the coder's tries in one attempt: round 0 is the first implementation, each ``sendback``
step opens the next round with the reason the work came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from pathlib import Path

from yoi.errors import InvalidRequest, RunStalled, YoiError
from yoi.orchestrator.asks import Answer, answer_of, ask, ensure_worker, retire
from yoi.orchestrator.branch_facts import branch_facts
from yoi.orchestrator.crew import Crew
from yoi.orchestrator.failpoints import Failpoint
from yoi.orchestrator.hosts import WorkerHost
from yoi.orchestrator.operations import OperationKey, OperationStatus
from yoi.orchestrator.policy_decision import Routing
from yoi.orchestrator.prompts import (
    FixReason,
    fix_input,
    implement_input,
    intake_input,
    review_input,
)
from yoi.orchestrator.records import AcceptedPlan
from yoi.orchestrator.records_decision import DecisionRecord
from yoi.orchestrator.records_work import Kickoff, StopReport
from yoi.orchestrator.roles import worker_name
from yoi.orchestrator.run_record import Phase, Run
from yoi.runtime import CreateWorkerRequest, NewWorkdir, RoleIntent
from yoi.tools.intent import IntakeReport, IntentPacket, intake_report
from yoi.tools.reports import ImplementationReport, ReviewReport, Verdict

__all__ = ["FIX_REASONS", "Steps"]

FIX_REASONS = frozenset(
    {FixReason.CLAIMS, FixReason.NO_REPORT, FixReason.CONFLICT, FixReason.VALIDATION}
)
_INTAKE_TOOLS = frozenset({"submit_intent"})
_CODER_TOOLS = frozenset({"submit_report"})
_REVIEW_TOOLS = frozenset({"submit_review"})


class Steps:
    """Accept, implement and review one ticket's run; :class:`~yoi.orchestrator.steps_merge.
    Finish` takes it from an approval on."""

    def __init__(self, crew: Crew) -> None:
        self.crew = crew

    # -- accepting ---------------------------------------------------------------------

    async def accept(self, run: Run) -> Run:
        """Name the work, ask the intake for its IntentPacket, and record the acceptance
        (plan, decision, ``queued → inprogress``) — or return the ticket to planning."""
        crew = self.crew
        detail = await crew.record(lambda: crew.tickets.get(run.ticket_id))
        title, body = detail.meta.title, detail.body
        named = await crew.step(run, "name", lambda: self._name(run, title))
        name = str(named["name"])
        worker = worker_name("intake", name, run.attempt)
        host = crew.intake_host()
        request = CreateWorkerRequest(
            worker_id=worker,
            display_name=f"intake {run.ticket_id}",
            intent=RoleIntent("orchestrator", f"intake of {run.ticket_id}"),
            profile=crew.roles.intake_profile,
        )
        await crew.step(run, "intake_worker", lambda: _created(host, request))
        op = input_id(crew, run, "intake")
        text = intake_input(run.ticket_id, title, body, op)
        silence = crew.settings.timeouts.intake
        answered = await crew.step(
            run, "intake", lambda: _answered(crew, host, worker, text, _INTAKE_TOOLS, silence)
        )
        await retire(host, worker, "intake answered")
        report = _intake(Answer.from_dict(answered))
        if report is None or not report.implementation_ready:
            reason = (
                "the intake gave no IntentPacket" if report is None else report.not_ready_reason
            )
            return await self._return_to_planning(run, reason or "the intake says it is not ready")
        return await self._accepted(run, name, title, report.packet)

    async def _name(self, run: Run, title: str) -> dict[str, object]:
        used = {str(r["name"]) for r in _all_done(self.crew, run.ticket_id, "name")}
        name = await self.crew.integration.free_name(run.ticket_id, title, used=used)
        return {"name": name}

    async def _accepted(self, run: Run, name: str, title: str, packet: IntentPacket) -> Run:
        crew = self.crew
        branch = f"work/{name}"
        worktree = crew.worktrees / name.lower()
        decision = DecisionRecord(
            Routing.IMPLEMENTATION_READY,
            (f"the intake found {run.ticket_id} ready to implement: {packet.intent[0]}",),
            evidence=(f"intake IntentPacket for {title}",),
            next_action=(f"a coder implements it on {branch}",),
            escalate_if=tuple(packet.escalate_if) or ("the intent cannot be met as written",),
            intent=packet,
        )
        plan = AcceptedPlan(
            summary=packet.intent[0], branch=branch, worktree=_relative(crew, worktree)
        )
        await crew.step(run, "accept", lambda: _accept(crew, run.ticket_id, decision, plan))
        moved = dataclasses.replace(run, branch=branch, workdir_id=name.lower())
        return await crew.save(moved.advance(Phase.IMPLEMENTING, at=crew.clock()))

    async def _return_to_planning(self, run: Run, reason: str) -> Run:
        crew = self.crew
        decision = DecisionRecord(
            Routing.RETURN_TO_PLANNING,
            (reason,),
            next_action=("a person completes the ticket in planning, then queues it again",),
        )

        async def back() -> dict[str, object]:
            await crew.record(lambda: crew.recorder.return_to_planning(run.ticket_id, decision))
            return {"reason": reason}

        await crew.step(run, "return_to_planning", back)
        stopped = run.advance(Phase.STOPPED, at=crew.clock(), stop_reason="returned_to_planning")
        return await crew.save(stopped)

    # -- implementing --------------------------------------------------------------------

    async def implement(self, run: Run) -> Run:
        """One round of the coder's work: kick off (round 0), ask, check the report against
        git; a report borne out goes to review, any other comes back as the next round."""
        crew = self.crew
        run = await self._coder(run)
        rounds = crew.rounds(run, "code")
        current = rounds[-1] if rounds else 0
        if crew.done(run, "code", current) is not None and crew.done(run, "sendback", current + 1):
            current += 1
        if (over := self._exhausted(run)) is not None:
            return over
        result = await crew.step(run, "code", lambda: self._code(run, current), round_=current)
        if result.get("believed"):
            head = str(result["head"])
            moved = dataclasses.replace(run, head_commit=head)
            return await crew.save(moved.advance(Phase.REVIEWING, at=crew.clock()))
        why = FixReason(str(result["why"]))
        details = [str(line) for line in _strings(result.get("details"))]
        return await self.send_back(run, current + 1, why, details, phase=Phase.IMPLEMENTING)

    async def _coder(self, run: Run) -> Run:
        """The coder and its workdir (made with it on the work runtime, from the integration
        branch's commit; a retry's new coder takes the workdir that is there)."""
        crew = self.crew
        if run.coder_worker_id is not None and crew.done(run, "coder") is not None:
            return run
        assert run.workdir_id is not None
        assert run.branch is not None
        name = run.branch.removeprefix("work/")
        worker = worker_name("coder", name, run.attempt)
        based = await crew.step(run, "base", lambda: _base(crew, run))
        base = str(based["base"])
        path = crew.worktrees / run.workdir_id
        workdir: str | NewWorkdir = run.workdir_id
        if not await asyncio.to_thread(path.is_dir):
            root = str(crew.integration.root)
            workdir = NewWorkdir(base, root, run.branch, run.workdir_id)
        request = CreateWorkerRequest(
            worker_id=worker,
            display_name=f"coder {run.ticket_id}",
            intent=RoleIntent("coder", f"implement {run.ticket_id}"),
            profile=crew.roles.coder_profile,
            workdir=workdir,
        )
        await crew.step(run, "coder", lambda: _created(crew.work_host(), request))
        kickoff = Kickoff(_relative(crew, path), run.branch, base, worker)

        async def kick() -> dict[str, object]:
            await crew.record(lambda: crew.recorder.kickoff(run.ticket_id, kickoff))
            return {}

        await crew.step(run, "kickoff", kick)
        moved = dataclasses.replace(run, coder_worker_id=worker, base_commit=base)
        return await crew.save(moved)

    async def _code(self, run: Run, round_: int) -> dict[str, object]:
        crew = self.crew
        assert run.coder_worker_id is not None
        assert run.base_commit is not None
        op = input_id(crew, run, "code", round_)
        text = await self._coder_input(run, round_, op)
        silence = crew.settings.timeouts.implement
        found = await _answered(
            crew, crew.work_host(), run.coder_worker_id, text, _CODER_TOOLS, silence
        )
        answer = Answer.from_dict(found)
        facts = await branch_facts(crew.worktrees / str(run.workdir_id), run.base_commit)
        report = answer.report()
        if not isinstance(report, ImplementationReport):
            why = "the coder's run ended without submit_report"
            return {"believed": False, "why": FixReason.NO_REPORT.value, "details": [why]}
        check = await crew.record(
            lambda: crew.recorder.implementation(run.ticket_id, report, facts)
        )
        if check.believed and facts.commits:
            reported = [_command_line(c.command, c.exit_code, c.outcome) for c in report.commands]
            return {
                "believed": True,
                "head": facts.head,
                "summary": report.summary,
                "reported": reported[:20],
            }
        problems = list(check.problems) or ["the branch holds no commit"]
        return {"believed": False, "why": FixReason.CLAIMS.value, "details": problems}

    async def _coder_input(self, run: Run, round_: int, op: str) -> str:
        crew = self.crew
        if round_ == 0:
            detail = await crew.record(lambda: crew.tickets.get(run.ticket_id))
            packet = intent_of(crew, run.ticket_id)
            text = implement_input(
                run.ticket_id, detail.meta.title, detail.body, packet, str(run.branch), op
            )
            note = plan_note(crew, run.ticket_id)
            said = "A person approved the plan with a note:"
            return text if note is None else f"{text}\n\n{said}\n{note}"
        back = crew.done(run, "sendback", round_) or {}
        why = FixReason(str(back.get("why", FixReason.REVIEW.value)))
        return fix_input(run.ticket_id, why, _strings(back.get("details")), op)

    def _exhausted(self, run: Run) -> Run | None:
        """Nothing: the run may go on (the limits are checked where work is sent back)."""
        return None

    async def send_back(
        self, run: Run, round_: int, why: FixReason, details: list[str], *, phase: Phase
    ) -> Run:
        """Open coder round ``round_`` with why the work came back — or stop the run when
        its fix rounds are spent."""
        crew = self.crew
        fixes = sum(
            1
            for r in crew.rounds(run, "sendback")
            if (done := crew.done(run, "sendback", r)) is not None
            and done.get("why") in FIX_REASONS
        )
        if why in FIX_REASONS and fixes >= crew.settings.max_fix_rounds:
            reason = f"{fixes} fix rounds were spent; the last: {why}"
            return await self.stop(run, "fix_rounds_exhausted", [reason, *details[:5]])

        async def record() -> dict[str, object]:
            return {"why": why.value, "details": details[:50]}

        await crew.step(run, "sendback", record, round_=round_)
        counted = fixes + (1 if why in FIX_REASONS else 0)
        moved = dataclasses.replace(run, fix_rounds=counted)
        if moved.phase is not Phase.IMPLEMENTING:
            moved = moved.advance(Phase.IMPLEMENTING, at=crew.clock())
        return await crew.save(moved)

    # -- reviewing ---------------------------------------------------------------------

    async def review(self, run: Run) -> Run:
        """Ask the reviewer to judge the exact head commit against the intent; an approval
        binds to that commit, a request for changes goes back to the coder."""
        crew = self.crew
        assert run.head_commit is not None
        assert run.base_commit is not None
        run = await self._reviewer(run)
        assert run.reviewer_worker_id is not None
        current = crew.rounds(run, "code")[-1]
        result = await crew.step(run, "review", lambda: self._review(run, current), round_=current)
        reviews = len([r for r in crew.rounds(run, "review") if crew.done(run, "review", r)])
        run = dataclasses.replace(run, review_round=reviews)
        if result.get("verdict") == Verdict.APPROVE.value:
            approved = dataclasses.replace(run, approved_commit=str(result["commit"]))
            return await crew.save(approved.advance(Phase.MERGING, at=crew.clock()))
        if reviews >= crew.settings.max_review_rounds:
            reason = f"{reviews} review rounds asked for changes"
            return await self.stop(run, "review_rounds_exhausted", [reason])
        findings = _strings(result.get("findings")) or ["the reviewer asked for changes"]
        return await self.send_back(run, current + 1, FixReason.REVIEW, findings, phase=run.phase)

    async def _reviewer(self, run: Run) -> Run:
        crew = self.crew
        if run.reviewer_worker_id is not None:
            return run
        name = str(run.branch).removeprefix("work/")
        worker = worker_name("reviewer", name, run.attempt)
        request = CreateWorkerRequest(
            worker_id=worker,
            display_name=f"reviewer {run.ticket_id}",
            intent=RoleIntent("reviewer", f"review {run.ticket_id}"),
            profile=crew.roles.reviewer_profile,
            workdir=run.workdir_id,
        )
        await crew.step(run, "reviewer", lambda: _created(crew.work_host(), request))
        return await crew.save(dataclasses.replace(run, reviewer_worker_id=worker))

    async def _review(self, run: Run, round_: int) -> dict[str, object]:
        crew = self.crew
        assert run.reviewer_worker_id is not None
        assert run.head_commit is not None
        detail = await crew.record(lambda: crew.tickets.get(run.ticket_id))
        op = input_id(crew, run, "review", round_)
        packet = intent_of(crew, run.ticket_id)
        text = review_input(
            run.ticket_id, detail.meta.title, detail.body, packet, run.head_commit,
            str(run.base_commit), op,
        )  # fmt: skip
        silence = crew.settings.timeouts.review
        found = await _answered(
            crew, crew.work_host(), run.reviewer_worker_id, text, _REVIEW_TOOLS, silence
        )
        answer = Answer.from_dict(found)
        report = answer.report()
        if not isinstance(report, ReviewReport):
            return {"verdict": "request_changes", "commit": run.head_commit, "findings": [
                "the reviewer's run ended without submit_review; review again"
            ]}  # fmt: skip
        reviewer = f"{crew.roles.work_runtime}/{run.reviewer_worker_id}"
        number = len(crew.rounds(run, "review"))
        await crew.record(
            lambda: crew.recorder.review(
                run.ticket_id, report, commit=str(run.head_commit), reviewer=reviewer, round_=number
            )
        )
        findings = [
            f"{f.severity}: {f.file}{'' if f.line is None else f':{f.line}'}: {f.message}"
            for f in report.findings
        ]
        return {
            "verdict": report.verdict.value,
            "commit": run.head_commit,
            "findings": findings,
            "summary": report.summary,
        }

    # -- stopping ----------------------------------------------------------------------

    async def stop(
        self,
        run: Run,
        code: str,
        reason: list[str],
        *,
        by: str | None = None,
        phase: Phase = Phase.STOPPED,
    ) -> Run:
        """End the run as ``stopped`` (or ``failed``): its workers idle, its worktree kept,
        the ticket told."""
        crew = self.crew
        await self._drop_pending_merge(run)
        host = crew.work_host()
        for worker in (run.coder_worker_id, run.reviewer_worker_id):
            with contextlib.suppress(YoiError):  # a runtime that is down runs nothing either
                await retire(host, worker, code)
        who = [f"stopped by {by}"] if by else []
        report = StopReport(
            code,
            (*who, *reason),
            ("a person retries the run, stops it for good, or returns the ticket to planning",),
        )

        async def tell() -> dict[str, object]:
            await crew.record(lambda: crew.recorder.stopped(run.ticket_id, report))
            return {"code": code}

        await crew.step(run, "stop", tell)
        ended = run.advance(phase, at=crew.clock(), stop_reason=code)
        return await crew.save(dataclasses.replace(ended, gate=None))

    async def _drop_pending_merge(self, run: Run) -> None:
        """A run that ends while its merge waits for validation takes the merge back, so the
        integration branch is free for the next ticket."""
        if run.phase is not Phase.VALIDATING:
            return
        rounds = self.crew.rounds(run, "merge")
        merged = self.crew.done(run, "merge", rounds[-1]) if rounds else None
        if merged is not None and "commit" in merged:
            await self.crew.integration.undo(str(merged["commit"]))


def plan_note(crew: Crew, ticket_id: str) -> str | None:
    """The note a person approved the ticket's plan with, for the coder to read."""
    found = crew.earlier(ticket_id, "plan_gate") or {}
    note = found.get("note")
    return str(note) if found.get("decision") == "approve" and note else None


def intent_of(crew: Crew, ticket_id: str) -> IntentPacket:
    """The IntentPacket the ticket's intake gave (over all attempts)."""
    answered = crew.earlier(ticket_id, "intake")
    report = None if answered is None else _intake(Answer.from_dict(answered))
    if report is None:
        raise InvalidRequest(f"{ticket_id} has no recorded IntentPacket")
    return report.packet


async def _created(host: WorkerHost, request: CreateWorkerRequest) -> dict[str, object]:
    made = await ensure_worker(host, request)
    return {"worker_id": made.worker_id}


async def _answered(
    crew: Crew, host: WorkerHost, worker: str, text: str, tools: frozenset[str], silence: float
) -> dict[str, object]:
    """Ask the worker and wait for its answer; a run that stalls is cancelled before the
    stall is raised, so the next try starts from an idle worker."""
    run_id = await ask(host, worker, text)
    crew.failpoints.reach(Failpoint.ASK_SENT)
    try:
        found = await answer_of(host, worker, run_id, tools, silence=silence)
    except RunStalled:
        with contextlib.suppress(YoiError):
            await host.cancel_worker(worker)
        raise
    return found.to_dict()


def input_id(crew: Crew, run: Run, kind: str, round_: int = 0) -> str:
    """The id an input carries: its operation's, with ``#<try>`` after a failed try, so
    that a retry is a new input and a restart finds the one it sent."""
    key = OperationKey(run.ticket_id, run.attempt, kind, round_)
    failed = sum(
        1
        for step in crew.state.steps(run.ticket_id)
        if step.key == key and step.status is OperationStatus.FAILED
    )
    return key.op_id if failed == 0 else f"{key.op_id}#{failed + 1}"


async def _base(crew: Crew, run: Run) -> dict[str, object]:
    """The commit the work starts from: the one a retry carries, else the integration
    branch's, pinned when first asked."""
    return {"base": run.base_commit or await crew.integration.head()}


async def _accept(
    crew: Crew, ticket_id: str, decision: DecisionRecord, plan: AcceptedPlan
) -> dict[str, object]:
    await crew.record(lambda: crew.recorder.accept(ticket_id, decision, plan))
    return {"branch": plan.branch}


def _intake(answer: Answer) -> IntakeReport | None:
    if answer.tool != "submit_intent" or answer.arguments is None:
        return None
    try:
        return intake_report(json.loads(answer.arguments))
    except (InvalidRequest, ValueError):
        return None


def _all_done(crew: Crew, ticket_id: str, kind: str) -> list[dict[str, object]]:
    return [
        step.result
        for step in crew.state.steps(ticket_id)
        if step.key.kind == kind and step.status is OperationStatus.DONE
    ]


def _relative(crew: Crew, path: Path) -> Path:
    return (
        path.relative_to(crew.integration.root)
        if path.is_relative_to(crew.integration.root)
        else path
    )


def _command_line(command: str, exit_code: int | None, outcome: str | None) -> str:
    said = [] if exit_code is None else [f"exit {exit_code}"]
    said += [] if outcome is None else [outcome]
    return f"{command}: {', '.join(said)}" if said else command


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
