"""The one reason a ticket is not running, from the fixed vocabulary."""

from __future__ import annotations

import dataclasses

import pytest

from yoi.orchestrator.policy_decision import Decision, Reason, ReasonCode, Routing
from yoi.orchestrator.reasons import WaitReason, decision_reason, run_reason
from yoi.orchestrator.run_record import Phase, Run

TICKET = "00001KVZBCQH4"
RUN = Run(TICKET, 1, Phase.IMPLEMENTING, 1.0, 2.0)


def decision(routing: Routing, *codes: ReasonCode) -> Decision:
    reasons = tuple(Reason(code, None, "why") for code in codes)
    return Decision(TICKET, routing, "why", reasons, (), "next", "escalate")


@pytest.mark.parametrize(
    ("made", "disk", "expected"),
    [
        (decision(Routing.BLOCKED, ReasonCode.DEPENDS_ON), False, "blocked_by_dependency"),
        (decision(Routing.WAITING_CAPACITY, ReasonCode.CONFLICTS_WITH), False, "conflict"),
        (decision(Routing.WAITING_CAPACITY, ReasonCode.WRITE_SURFACE), True, "conflict"),
        (decision(Routing.WAITING_CAPACITY, ReasonCode.CAPACITY), False, "waiting_capacity"),
        (decision(Routing.IMPLEMENTATION_READY), True, "disk_budget"),
    ],
)
def test_a_waiting_ticket_has_one_reason(made: Decision, disk: bool, expected: str) -> None:
    assert decision_reason(made, disk=disk) == WaitReason(expected)


@pytest.mark.parametrize(
    ("phase", "stop", "last_fix", "stalled", "expected"),
    [
        (Phase.IMPLEMENTING, None, None, False, None),
        (Phase.IMPLEMENTING, None, None, True, "stalled"),
        (Phase.DONE, None, None, False, None),
        (Phase.STOPPED, "stopped_by_person", None, False, "stopped_by_person"),
        (Phase.STOPPED, "ticket_taken_back", None, False, "stopped_by_person"),
        (Phase.STOPPED, "review_rounds_exhausted", None, False, "review_rounds_exhausted"),
        (Phase.STOPPED, "fix_rounds_exhausted", "validation", False, "validation_failed"),
        (Phase.STOPPED, "fix_rounds_exhausted", "conflict", False, "conflict"),
        (Phase.STOPPED, "fix_rounds_exhausted", "claims", False, "suppressed"),
        (Phase.STOPPED, "budget_exhausted", None, False, "budget_exhausted"),
        (Phase.FAILED, "suppressed", None, False, "suppressed"),
        (Phase.FAILED, "internal_error", None, False, "suppressed"),
        (Phase.STOPPED, "returned_to_planning", None, False, None),
    ],
)
def test_a_run_not_running_has_one_reason(
    phase: Phase, stop: str | None, last_fix: str | None, stalled: bool, expected: str | None
) -> None:
    run = dataclasses.replace(RUN, phase=phase, stop_reason=stop)
    found = run_reason(run, last_fix=last_fix, stalled=stalled)
    assert found == expected
    assert found is None or found in set(WaitReason)
