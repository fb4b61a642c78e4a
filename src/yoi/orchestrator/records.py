"""What the orchestrator writes on a ticket, written through the ticket store.

:class:`TicketRecorder` turns the typed values of :mod:`~yoi.orchestrator.records_decision`
and :mod:`~yoi.orchestrator.records_work` into the original orchestrator's events: a
``decision`` comment (once per change of decision), plan records in
``orchestration-plan.jsonl``, ``implementation_report`` comments (kickoff, the coder's
checked report, integration, cleanup), ``review`` events and the moves of an acceptance,
a return to planning and a finish.

The store is file I/O under a lock, so the recorder is synchronous; the loop calls it
with :func:`asyncio.to_thread`. An acceptance and a return to planning may be repeated
after a crash: what they already wrote is not written again.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from yoi.errors import InvalidRequest
from yoi.orchestrator.branch_facts import BranchFacts
from yoi.orchestrator.policy_decision import Routing
from yoi.orchestrator.records_decision import (
    DecisionRecord,
    PlanNote,
    decision_changed,
    decision_since,
    last_decision,
    plans_pending,
    render_decision,
)
from yoi.orchestrator.records_work import (
    Check,
    Cleanup,
    ConflictReport,
    IntegrationReport,
    Kickoff,
    RetryNote,
    StopReport,
    check_claims,
    render_cleanup,
    render_implementation,
    render_integration,
    render_kickoff,
    render_merge_conflict,
    render_retry,
    render_review,
    render_stop,
    review_status,
)
from yoi.tickets import EventKind, Meta, PlanKind, State, ThreadEvent, TicketStore
from yoi.tools.reports import ImplementationReport, ReviewReport

__all__ = [
    "ACCEPTANCE_REASON",
    "AUTHOR",
    "DONE_REASON",
    "RESUMING",
    "AcceptedPlan",
    "TicketRecorder",
]

AUTHOR: Final = "orchestrator"
ACCEPTANCE_REASON: Final = "orchestrator_acceptance"
NOT_READY_REASON: Final = "intake_not_implementation_ready"
DONE_REASON: Final = "merged_reviewed_validated"
RESUMING: ContextVar[bool] = ContextVar("yoi_orchestrator_resuming", default=False)
"""Set while a step that began before a crash runs again (see
:meth:`~yoi.orchestrator.crew.Crew.step`): the records it writes may be on the ticket."""


@dataclass(frozen=True, slots=True)
class AcceptedPlan:
    """The ``accepted_plan`` record of an acceptance: what will be built, and where."""

    summary: str
    branch: str
    worktree: Path

    def note(self) -> PlanNote:
        fields = (("summary", self.summary), ("branch", self.branch))
        return PlanNote(
            PlanKind.ACCEPTED_PLAN, accepted_plan=(*fields, ("worktree", str(self.worktree)))
        )


class TicketRecorder:
    def __init__(self, store: TicketStore, *, author: str = AUTHOR) -> None:
        self._store = store
        self._author = author

    def decide(
        self, ticket_id: str, decision: DecisionRecord, notes: tuple[PlanNote, ...] = ()
    ) -> bool:
        """Write ``decision`` and its plan records unless the standing decision says the
        same; ``True`` when it was written."""
        detail = self._store.get(ticket_id)
        if not decision_changed(last_decision(detail.events), decision):
            return False
        for note in plans_pending(detail.plans, decision_since(detail.events), notes):
            self._store.add_plan(
                ticket_id,
                note.kind,
                author=self._author,
                related_ticket=note.related_ticket,
                note=note.note,
                accepted_plan=dict(note.accepted_plan) or None,
            )
        self._comment(ticket_id, render_decision(decision), EventKind.DECISION)
        return True

    def accept(self, ticket_id: str, decision: DecisionRecord, plan: AcceptedPlan) -> Meta:
        """Record the accepted plan, the decision with its IntentPacket, then move the
        ticket ``queued → inprogress`` — before any side effect of its run."""
        if decision.routing is not Routing.IMPLEMENTATION_READY or decision.intent is None:
            raise InvalidRequest("an acceptance is an implementation_ready decision with a packet")
        self.decide(ticket_id, decision, (plan.note(),))
        return self._move(ticket_id, State.QUEUED, State.INPROGRESS, ACCEPTANCE_REASON)

    def return_to_planning(
        self, ticket_id: str, decision: DecisionRecord, reason: str = NOT_READY_REASON
    ) -> Meta:
        """Record why the ticket is not ready, and move it ``queued → planning``."""
        if decision.routing is not Routing.RETURN_TO_PLANNING:
            raise InvalidRequest("a return to planning is a return_to_planning decision")
        self.decide(ticket_id, decision)
        return self._move(ticket_id, State.QUEUED, State.PLANNING, reason)

    def kickoff(self, ticket_id: str, kickoff: Kickoff) -> ThreadEvent:
        return self._comment(ticket_id, render_kickoff(kickoff), EventKind.IMPLEMENTATION_REPORT)

    def implementation(
        self, ticket_id: str, report: ImplementationReport, facts: BranchFacts
    ) -> Check:
        """Record the coder's report with what its branch holds; the check says whether
        the report is believed or goes back to the coder."""
        check = check_claims(report, facts)
        body = render_implementation(report, facts, check)
        self._comment(ticket_id, body, EventKind.IMPLEMENTATION_REPORT)
        return check

    def review(
        self, ticket_id: str, review: ReviewReport, *, commit: str, reviewer: str, round_: int
    ) -> ThreadEvent:
        body = render_review(review, commit, reviewer, round_)
        if (written := self._written(ticket_id, EventKind.REVIEW, body)) is not None:
            return written
        return self._store.review(ticket_id, review_status(review), body, author=self._author)

    def integration(self, ticket_id: str, integration: IntegrationReport) -> Meta | None:
        """Record the merge and its validation; on green move the ticket to ``done``."""
        body = render_integration(integration)
        self._comment(ticket_id, body, EventKind.IMPLEMENTATION_REPORT)
        if not integration.passed:
            return None
        return self._move(ticket_id, State.INPROGRESS, State.DONE, DONE_REASON)

    def merge_conflict(self, ticket_id: str, conflict: ConflictReport) -> ThreadEvent:
        body = render_merge_conflict(conflict)
        return self._comment(ticket_id, body, EventKind.IMPLEMENTATION_REPORT)

    def stopped(self, ticket_id: str, stop: StopReport) -> ThreadEvent:
        """Say on the ticket that its run stopped, and why; the ticket stays in progress for
        a person to retry, stop or return to planning."""
        return self._comment(ticket_id, render_stop(stop), EventKind.IMPLEMENTATION_REPORT)

    def retrying(self, ticket_id: str, note: RetryNote) -> ThreadEvent:
        """Say on the ticket that a step failed and when it is tried again."""
        return self._comment(ticket_id, render_retry(note), EventKind.IMPLEMENTATION_REPORT)

    def gate_opened(self, ticket_id: str, body: str) -> ThreadEvent:
        """Say on the ticket that its run waits at a gate, with what a person decides on."""
        return self._comment(ticket_id, body, EventKind.IMPLEMENTATION_REPORT)

    def gate_decided(self, ticket_id: str, body: str) -> ThreadEvent:
        return self._comment(ticket_id, body, EventKind.IMPLEMENTATION_REPORT)

    def rejected(self, ticket_id: str, gate: str) -> Meta:
        """Move the ticket of a run rejected at a gate back to planning."""
        reason = f"{gate}_gate_rejected"
        return self._move(ticket_id, State.INPROGRESS, State.PLANNING, reason)

    def cleanup(self, ticket_id: str, cleanup: Cleanup) -> ThreadEvent:
        return self._comment(ticket_id, render_cleanup(cleanup), EventKind.IMPLEMENTATION_REPORT)

    def _comment(self, ticket_id: str, body: str, role: EventKind) -> ThreadEvent:
        if (written := self._written(ticket_id, role, body)) is not None:
            return written
        return self._store.comment(ticket_id, body, author=self._author, role=role)

    def _written(self, ticket_id: str, kind: EventKind, body: str) -> ThreadEvent | None:
        """The same event on the thread, when a step cut short by a crash runs again: what
        it wrote before is not written twice. ``None`` otherwise, or when not resuming."""
        if not RESUMING.get():
            return None
        for event in reversed(self._store.get(ticket_id).events):
            if event.author == self._author and event.kind == kind and event.body == body:
                return event
        return None

    def _move(self, ticket_id: str, source: State, target: State, reason: str) -> Meta:
        meta = self._store.get(ticket_id).meta
        if meta.state is target:  # moved before a crash cut the step short
            return meta
        return self._store.move(
            ticket_id, target, author=self._author, expected=source, reason=reason
        )
