"""A ticket's run: where the orchestrator is in taking one ticket to ``done``.

A run moves through the phases of ARCHITECTURE §9::

    accepting → implementing → reviewing → merging → validating → cleaning_up → done
                     ↑______________|__________|__________|
                  (changes requested, a merge conflict, a red validation)

and from any phase that is not over to ``stopped`` (ended on purpose: a person stopped it,
the review rounds ran out, the intake returned the ticket to planning) or ``failed`` (an
error the loop cannot get past); ``stop_reason`` says which. ``done``, ``stopped`` and
``failed`` are over: a retry is a new run of the ticket with the next ``attempt``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from yoi.errors import InvalidRequest, InvalidTransition
from yoi.orchestrator.fields import (
    checked_commit,
    checked_count,
    checked_id,
    checked_moment,
    checked_text,
    checked_ticket,
)

__all__ = ["GATES", "GATE_REJECTED", "Phase", "Run"]


class Phase(StrEnum):
    ACCEPTING = "accepting"
    IMPLEMENTING = "implementing"
    REVIEWING = "reviewing"
    MERGING = "merging"
    VALIDATING = "validating"
    CLEANING_UP = "cleaning_up"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def over(self) -> bool:
        """Whether the run has ended: nothing more happens in it."""
        return self in _OVER

    def can_move_to(self, target: Phase) -> bool:
        return target in _NEXT[self] or (not self.over and target in _ENDINGS)


_NAMES = frozenset(str(phase) for phase in Phase)
_OVER = frozenset({Phase.DONE, Phase.STOPPED, Phase.FAILED})
_ENDINGS = frozenset({Phase.STOPPED, Phase.FAILED})
_NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.ACCEPTING: frozenset({Phase.IMPLEMENTING}),
    Phase.IMPLEMENTING: frozenset({Phase.REVIEWING}),
    Phase.REVIEWING: frozenset({Phase.IMPLEMENTING, Phase.MERGING}),
    Phase.MERGING: frozenset({Phase.IMPLEMENTING, Phase.VALIDATING}),
    Phase.VALIDATING: frozenset({Phase.IMPLEMENTING, Phase.CLEANING_UP}),
    Phase.CLEANING_UP: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
    Phase.STOPPED: frozenset(),
    Phase.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Run:
    """One ticket's run. Every field is checked when the value is made (``invalid_request``
    naming the field), so a run that exists can be saved and reads back equal.

    Times and deadlines are seconds since the epoch. ``review_round`` counts the reviews
    asked for so far; ``fix_rounds`` the failed merges or validations sent back to the coder.
    """

    ticket_id: str
    attempt: int
    phase: Phase
    started_at: float
    updated_at: float
    workdir_id: str | None = None
    branch: str | None = None
    coder_worker_id: str | None = None
    reviewer_worker_id: str | None = None
    base_commit: str | None = None
    head_commit: str | None = None
    approved_commit: str | None = None
    review_round: int = 0
    fix_rounds: int = 0
    phase_deadline: float | None = None
    run_deadline: float | None = None
    stop_reason: str | None = None
    gate: str | None = None
    """The gate the run is parked at (``plan``, ``merge``) until a person decides."""

    def __post_init__(self) -> None:
        for name, value in _checked(self).items():
            object.__setattr__(self, name, value)

    def advance(self, phase: Phase, *, at: float, stop_reason: str | None = None) -> Run:
        """This run moved to ``phase`` at ``at``; ``invalid_transition`` if it may not go there."""
        if not self.phase.can_move_to(phase):
            raise InvalidTransition(
                f"run of {self.ticket_id} cannot move from {self.phase} to {phase}",
                details={"ticket_id": self.ticket_id, "from": self.phase, "to": phase},
            )
        return dataclasses.replace(self, phase=phase, updated_at=at, stop_reason=stop_reason)


def _checked(run: Run) -> dict[str, object]:
    return {
        "ticket_id": checked_ticket(run.ticket_id),
        "attempt": checked_count(run.attempt, "attempt", minimum=1),
        "phase": _phase(run.phase),
        "started_at": checked_moment(run.started_at, "started_at"),
        "updated_at": checked_moment(run.updated_at, "updated_at"),
        "workdir_id": checked_id(run.workdir_id, "workdir_id"),
        "branch": _optional_line(run.branch, "branch"),
        "coder_worker_id": checked_id(run.coder_worker_id, "coder_worker_id"),
        "reviewer_worker_id": checked_id(run.reviewer_worker_id, "reviewer_worker_id"),
        "base_commit": checked_commit(run.base_commit, "base_commit"),
        "head_commit": checked_commit(run.head_commit, "head_commit"),
        "approved_commit": checked_commit(run.approved_commit, "approved_commit"),
        "review_round": checked_count(run.review_round, "review_round"),
        "fix_rounds": checked_count(run.fix_rounds, "fix_rounds"),
        "phase_deadline": _optional_moment(run.phase_deadline, "phase_deadline"),
        "run_deadline": _optional_moment(run.run_deadline, "run_deadline"),
        "stop_reason": _optional_text(run.stop_reason, "stop_reason"),
        "gate": _gate(run.gate),
    }


GATES = ("plan", "merge")
GATE_REJECTED = "gate_rejected"
"""The stop reason of a run a person rejected at a gate (its ticket back in planning)."""


def _gate(value: object) -> str | None:
    if value is None or (isinstance(value, str) and value in GATES):
        return value
    raise InvalidRequest("gate must be plan, merge or null", details={"field": "gate"})


def _phase(value: object) -> Phase:
    if isinstance(value, Phase):
        return value
    if isinstance(value, str) and value in _NAMES:
        return Phase(value)
    names = ", ".join(Phase)
    raise InvalidRequest(f"phase must be one of {names}", details={"field": "phase"})


def _optional_line(value: object, field: str) -> str | None:
    if value is None:
        return None
    text = checked_text(value, field, limit=255, line=True)
    if not text:
        raise InvalidRequest(f"{field} must not be empty", details={"field": field})
    return text


def _optional_text(value: object, field: str) -> str | None:
    return None if value is None else checked_text(value, field)


def _optional_moment(value: object, field: str) -> float | None:
    return None if value is None else checked_moment(value, field)
