"""The one reason a ticket is not running, from a fixed vocabulary.

Every queued ticket that has not started and every run that ended without ``done`` (or waits
to try again) has exactly one of these; the board, ``yoi orchestrator status`` and the API
show it next to the sentence that explains it.
"""

from __future__ import annotations

from enum import StrEnum

from yoi.orchestrator.policy_decision import Decision, ReasonCode, Routing
from yoi.orchestrator.run_record import Phase, Run

__all__ = ["WaitReason", "decision_reason", "run_reason"]


class WaitReason(StrEnum):
    BLOCKED_BY_DEPENDENCY = "blocked_by_dependency"
    CONFLICT = "conflict"
    WAITING_CAPACITY = "waiting_capacity"
    DISK_BUDGET = "disk_budget"
    AWAITING_PLAN_APPROVAL = "awaiting_plan_approval"
    AWAITING_MERGE_APPROVAL = "awaiting_merge_approval"
    REVIEW_ROUNDS_EXHAUSTED = "review_rounds_exhausted"
    VALIDATION_FAILED = "validation_failed"
    BUDGET_EXHAUSTED = "budget_exhausted"
    STALLED = "stalled"
    SUPPRESSED = "suppressed"
    STOPPED_BY_PERSON = "stopped_by_person"


_HELD = frozenset(
    {ReasonCode.CONFLICTS_WITH, ReasonCode.DO_NOT_PARALLELIZE, ReasonCode.WRITE_SURFACE}
)
_ENDED = {
    "stopped_by_person": WaitReason.STOPPED_BY_PERSON,
    "ticket_taken_back": WaitReason.STOPPED_BY_PERSON,
    "review_rounds_exhausted": WaitReason.REVIEW_ROUNDS_EXHAUSTED,
    "budget_exhausted": WaitReason.BUDGET_EXHAUSTED,
    "blocked_by_dependency": WaitReason.BLOCKED_BY_DEPENDENCY,
    "suppressed": WaitReason.SUPPRESSED,
}
_GATES = {
    "plan": WaitReason.AWAITING_PLAN_APPROVAL,
    "merge": WaitReason.AWAITING_MERGE_APPROVAL,
}
_LAST_FIX = {"validation": WaitReason.VALIDATION_FAILED, "conflict": WaitReason.CONFLICT}


def decision_reason(decision: Decision, *, disk: bool = False) -> WaitReason:
    """Why a queued ticket the pass did not start waits."""
    if decision.routing is Routing.BLOCKED:
        return WaitReason.BLOCKED_BY_DEPENDENCY
    if any(reason.code in _HELD for reason in decision.reasons):
        return WaitReason.CONFLICT
    if disk:
        return WaitReason.DISK_BUDGET
    return WaitReason.WAITING_CAPACITY


def run_reason(run: Run, *, last_fix: str | None = None, stalled: bool = False) -> str | None:
    """Why a run is not running: how it ended (``last_fix`` says what its spent fix rounds
    were about), or ``stalled`` while it waits to try again; ``None`` while it runs or once
    it is done or its ticket left the orchestrator (returned to planning by its intake)."""
    if not run.phase.over:
        if run.gate is not None:
            return _GATES[run.gate].value
        return WaitReason.STALLED.value if stalled else None
    if run.phase is Phase.DONE:
        return None
    if run.stop_reason == "fix_rounds_exhausted":
        return _LAST_FIX.get(last_fix or "", WaitReason.SUPPRESSED).value
    found = _ENDED.get(run.stop_reason or "")
    if found is not None:
        return found.value
    return WaitReason.SUPPRESSED.value if run.phase is Phase.FAILED else None
