"""What a policy pass answers: a decision per queued ticket, in the fields of the original
orchestrator's ``decision`` event, the checks of the runs in flight, the tickets to start.

Every sentence depends only on what holds the ticket (never on queue positions, phases or
counts of running tickets), so a recorder can write a decision once per change of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from yoi.tickets.model import State

__all__ = [
    "Decision",
    "Explanation",
    "Pass",
    "Reason",
    "ReasonCode",
    "Routing",
    "RunCheck",
    "RunVerdict",
    "decision_of",
    "standing_of",
]


class Routing(StrEnum):
    """The decision classes of the original orchestrator (``Routing decision: <class>``)."""

    IMPLEMENTATION_READY = "implementation_ready"
    BLOCKED = "blocked_by_dependency_or_missing_authority"
    WAITING_CAPACITY = "waiting_capacity"
    RETURN_TO_PLANNING = "return_to_planning"


class ReasonCode(StrEnum):
    DEPENDS_ON = "depends_on"
    BLOCKS = "blocks"
    PLAN_BLOCKED_BY = "plan_blocked_by"
    MISSING = "missing"
    CYCLE = "cycle"
    CONFLICTS_WITH = "conflicts_with"
    DO_NOT_PARALLELIZE = "do_not_parallelize"
    WRITE_SURFACE = "write_surface"
    CAPACITY = "capacity"
    NOT_QUEUED = "not_queued"
    IN_FLIGHT = "in_flight"
    RUN_ENDED = "run_ended"


_BLOCKING = frozenset(
    {
        ReasonCode.DEPENDS_ON,
        ReasonCode.BLOCKS,
        ReasonCode.PLAN_BLOCKED_BY,
        ReasonCode.MISSING,
        ReasonCode.CYCLE,
    }
)
_AUTHORIZED = frozenset({State.QUEUED, State.INPROGRESS})


@dataclass(frozen=True, slots=True)
class Reason:
    """One thing that holds a ticket: ``ticket_id`` is the other ticket, when there is one;
    ``detail`` is a clause of the decision's sentence."""

    code: ReasonCode
    ticket_id: str | None
    detail: str
    state: State | None = None
    """The other ticket's state, when it waits for that ticket to be done."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a pass decided for one queued ticket, in the fields of a ``decision`` event."""

    ticket_id: str
    routing: Routing
    reason: str
    reasons: tuple[Reason, ...]
    evidence: tuple[str, ...]
    next_action: str
    escalate_if: str


class RunVerdict(StrEnum):
    CONTINUE = "continue"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class RunCheck:
    ticket_id: str
    phase: str
    verdict: RunVerdict
    reason: str


@dataclass(frozen=True, slots=True)
class Pass:
    """A pass's answer: ``start`` is in queue order and never longer than the free slots."""

    runs: tuple[RunCheck, ...]
    decisions: tuple[Decision, ...]
    start: tuple[str, ...]
    cycles: tuple[tuple[str, ...], ...]

    def decision(self, ticket_id: str) -> Decision | None:
        return next((d for d in self.decisions if d.ticket_id == ticket_id), None)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a ticket has not started, for ``explain``: one sentence and its reasons; the
    pass's full decision when the ticket is queued and waits for one."""

    ticket_id: str
    state: State
    sentence: str
    reasons: tuple[Reason, ...]
    decision: Decision | None = None


_STANDING = {
    State.PLANNING: "it is in planning: a person marks it ready, then queues it",
    State.READY: "it is ready but not queued: a person queues it",
    State.INPROGRESS: "it is in progress, with no run of the orchestrator: a person works on it",
    State.DONE: "it is done",
    State.CLOSED: "it is closed",
}


def standing_of(ticket_id: str, state: State, phase: str | None) -> Explanation:
    """The explanation of a ticket no pass decides for: not queued, or its run has begun."""
    if phase is not None:
        verb = "has started" if state is State.QUEUED else f"is {state}"
        clause = f"it {verb}: its run is {phase}"
        return Explanation(
            ticket_id, state, f"{ticket_id}: {clause}.", (_own(ReasonCode.IN_FLIGHT, clause),)
        )
    clause = _STANDING.get(state, f"it is {state}")
    return Explanation(
        ticket_id, state, f"{ticket_id}: {clause}.", (_own(ReasonCode.NOT_QUEUED, clause),)
    )


def ended_run(explanation: Explanation, phase: str, stop_reason: str | None) -> Explanation:
    """The explanation of a ticket whose run ended without ``done``: it waits for a person."""
    why = f" ({stop_reason})" if stop_reason else ""
    clause = f"its run {phase}{why}: a person retries it, or returns the ticket to planning"
    sentence = f"{explanation.ticket_id}: {clause}."
    reason = _own(ReasonCode.RUN_ENDED, clause)
    return Explanation(explanation.ticket_id, explanation.state, sentence, (reason,))


def _own(code: ReasonCode, clause: str) -> Reason:
    return Reason(code, None, clause)


def decision_of(
    ticket_id: str, reasons: Sequence[Reason], evidence: Iterable[str], *, max_parallel: int
) -> Decision:
    """The decision its ``reasons`` make: blocked by any blocking reason, else waiting for
    any other, else ready; with the sentence, next action and escalation they imply."""
    routing = _routing(reasons)
    return Decision(
        ticket_id=ticket_id,
        routing=routing,
        reason=_sentence(ticket_id, reasons),
        reasons=tuple(reasons),
        evidence=tuple(evidence),
        next_action=_next_action(routing, reasons, max_parallel),
        escalate_if=_escalate_if(routing, reasons),
    )


def _routing(reasons: Sequence[Reason]) -> Routing:
    if any(reason.code in _BLOCKING for reason in reasons):
        return Routing.BLOCKED
    if reasons:
        return Routing.WAITING_CAPACITY
    return Routing.IMPLEMENTATION_READY


def _sentence(ticket_id: str, reasons: Sequence[Reason]) -> str:
    if not reasons:
        return f"{ticket_id} is ready to start: nothing blocks or holds it and a slot is free."
    return f"{ticket_id} has not started: {'; '.join(r.detail for r in reasons)}."


def _next_action(routing: Routing, reasons: Sequence[Reason], limit: int) -> str:
    codes = {reason.code for reason in reasons}
    if routing is Routing.IMPLEMENTATION_READY:
        return "accept it: an intake worker writes its IntentPacket, then it moves to inprogress"
    if ReasonCode.CYCLE in codes:
        return "a person breaks the cycle by removing one of its depends_on or blocks relations"
    if ReasonCode.MISSING in codes:
        missing = _names(reasons, {ReasonCode.MISSING})
        return f"a person removes or corrects the relation to {missing}"
    unauthorized = _unauthorized(reasons)
    if unauthorized:
        return f"a person queues {unauthorized}, or removes the relation"
    if routing is Routing.BLOCKED:
        return f"wait for {_names(reasons, _BLOCKING)} to be done; a later pass starts it"
    if codes == {ReasonCode.CAPACITY}:
        return f"wait for a free slot (max_parallel {limit}); it starts when a running ticket ends"
    return f"wait for {_names(reasons, set(ReasonCode))} to finish; a later pass starts it"


def _escalate_if(routing: Routing, reasons: Sequence[Reason]) -> str:
    codes = {reason.code for reason in reasons}
    if routing is Routing.IMPLEMENTATION_READY:
        return "the intake worker finds it not implementation-ready"
    if codes & {ReasonCode.CYCLE, ReasonCode.MISSING} or _unauthorized(reasons):
        return "now: it never starts until a person acts"
    if routing is Routing.BLOCKED:
        return "a ticket it waits for returns to planning or stops without being done"
    return "a running ticket it waits for stays stuck past its run's deadline"


def _unauthorized(reasons: Sequence[Reason]) -> str:
    """The tickets it waits for that nobody has queued: only a person can authorize them."""
    held = [
        reason.ticket_id
        for reason in reasons
        if reason.ticket_id is not None
        and reason.state is not None
        and reason.state not in _AUTHORIZED
    ]
    return ", ".join(sorted(set(held)))


def _names(reasons: Sequence[Reason], codes: Iterable[ReasonCode]) -> str:
    wanted = set(codes)
    found = {r.ticket_id for r in reasons if r.code in wanted and r.ticket_id is not None}
    return ", ".join(sorted(found))
