"""The orchestrator's policy: which queued tickets start now, and why each other one waits.

A pure function of a :class:`~yoi.orchestrator.policy_inputs.Snapshot`. Each pass:

1. checks every run in flight against its ticket: a run whose ticket was closed, sent back
   to planning or removed is to be stopped;
2. takes the ``queued`` tickets with no run, in queue order (``queued_at``, then id, as
   the board's ready view sorts them), and decides for each, first match wins:

   - ``blocked_by_dependency_or_missing_authority``: a ``depends_on`` target or a ticket
     that ``blocks`` it is not done or closed (the ready view's blockers, reused), a target
     is missing, it sits on a cycle of such waits among unfinished tickets (reported with
     the cycle, never waited on forever), or a person's ``blocked_by`` plan record names an
     unfinished ticket;
   - ``waiting_capacity``: a ``conflicts_with`` or ``do_not_parallelize`` plan record
     (either way round) pairs it with a running ticket, its write surface overlaps a
     running ticket's, or every slot of ``max_parallel`` is taken;
   - ``implementation_ready``: it starts now, and counts as running for the tickets after it.

A running ticket is one with a run in flight or in ``inprogress`` (a person may have moved
it there by hand): ``max_parallel`` bounds tickets in progress, however they got there.
``return_to_planning`` is never the policy's answer: it is the intake worker's verdict on a
ticket it found not implementation-ready, recorded in the same vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from yoi.errors import TicketNotFound
from yoi.orchestrator.policy_cycles import deadlocks
from yoi.orchestrator.policy_decision import (
    Decision,
    Explanation,
    Pass,
    Reason,
    ReasonCode,
    Routing,
    RunCheck,
    RunVerdict,
    decision_of,
    standing_of,
)
from yoi.orchestrator.policy_inputs import RunInFlight, Snapshot, TicketFacts, surface_of
from yoi.tickets.ids import ticket_id as canonical_id
from yoi.tickets.lifecycle import Blocker, Graph
from yoi.tickets.model import PlanKind, PlanRecord, Relation, RelationKind, State

__all__ = [
    "Decision",
    "blockers_of",
    "Explanation",
    "Pass",
    "Reason",
    "ReasonCode",
    "Routing",
    "RunCheck",
    "RunVerdict",
    "decide",
    "explain",
]

_PAIRS = {
    PlanKind.CONFLICTS_WITH: ReasonCode.CONFLICTS_WITH,
    PlanKind.DO_NOT_PARALLELIZE: ReasonCode.DO_NOT_PARALLELIZE,
}


def decide(snapshot: Snapshot) -> Pass:
    """Check the runs in flight, then decide for every queued ticket without one."""
    context = _Context(snapshot)
    slots = snapshot.config.max_parallel - len(context.running)
    decisions: list[Decision] = []
    start: list[str] = []
    for facts in context.queue():
        decision = context.decide(facts, free=slots > 0)
        if decision.routing is Routing.IMPLEMENTATION_READY:
            start.append(facts.id)
            slots -= 1
            context.starts(facts)
        decisions.append(decision)
    return Pass(_checks(snapshot), tuple(decisions), tuple(start), context.cycles)


def explain(snapshot: Snapshot, ticket_id: str) -> Explanation:
    """Why ``ticket_id`` has not started, as the pass over ``snapshot`` sees it.

    Raises ``invalid_ticket_id`` for a malformed id and ``ticket_not_found`` for a ticket
    the snapshot does not hold.
    """
    wanted = canonical_id(ticket_id)
    facts = snapshot.tickets.get(wanted)
    if facts is None:
        raise TicketNotFound(f"there is no ticket {wanted}", details={"ticket_id": wanted})
    phase = next((run.phase for run in snapshot.runs if run.ticket_id == wanted), None)
    if facts.state is not State.QUEUED or phase is not None:
        return standing_of(wanted, facts.state, phase)
    decision = decide(snapshot).decision(wanted)
    assert decision is not None  # every queued ticket without a run gets a decision
    return Explanation(wanted, facts.state, decision.reason, decision.reasons, decision)


def blockers_of(snapshot: Snapshot, ticket_id: str) -> tuple[Reason, ...]:
    """What blocks ``ticket_id`` now, whatever its state: an unfinished ``depends_on`` or
    ``blocks`` ticket, a ``blocked_by`` record, a cycle (what a retry checks first)."""
    return tuple(_Context(snapshot).blockers(canonical_id(ticket_id)))


class _Context:
    """The indexes one pass reads, and the tickets running so far (those started included)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.states = snapshot.states()
        self.graph = Graph(snapshot.relations, self.states)
        self.cycle_of, self.cycles = deadlocks(snapshot.relations, self.states)
        self.runs = {run.ticket_id: run for run in snapshot.runs}
        self.pairs, self.plan_blocks = _plan_index(snapshot)
        self.running: set[str] = set(self.runs)
        self.running.update(i for i, state in self.states.items() if state is State.INPROGRESS)
        self.surfaces: dict[str, tuple[tuple[str, ...], ...]] = {}
        for ticket_id in sorted(self.running):
            self._claim(ticket_id, self._surface(ticket_id))

    def queue(self) -> list[TicketFacts]:
        tickets = self.snapshot.tickets.values()
        queued = [t for t in tickets if t.state is State.QUEUED and t.id not in self.runs]
        return sorted(queued, key=lambda facts: facts.queue_key)

    def starts(self, facts: TicketFacts) -> None:
        self.running.add(facts.id)
        self._claim(facts.id, facts.write_surface)

    def decide(self, facts: TicketFacts, *, free: bool) -> Decision:
        limit = self.snapshot.config.max_parallel
        reasons = self.blockers(facts.id) + self.holds(facts)
        if not reasons and not free:
            reasons = [Reason(ReasonCode.CAPACITY, None, f"all {limit} slots are taken")]
        return decision_of(facts.id, reasons, self.evidence(facts), max_parallel=limit)

    def blockers(self, ticket_id: str) -> list[Reason]:
        reasons: list[Reason] = []
        cycle = self.cycle_of.get(ticket_id)
        if cycle is not None:
            along = " → ".join((*cycle, cycle[0]))
            detail = f"it is on the dependency cycle {along}"
            reasons.append(Reason(ReasonCode.CYCLE, cycle[1 % len(cycle)], detail))
        found = self.graph.blockers(ticket_id)
        reasons += [self._blocker(blocker) for blocker in found]
        named = {blocker.ticket_id for blocker in found}
        for record in self.plan_blocks.get(ticket_id, ()):
            other = record.related_ticket or ""
            if other not in named:
                named.add(other)
                reasons += self._plan_blocker(record, other)
        return reasons

    def _blocker(self, blocker: Blocker) -> Reason:
        other = blocker.ticket_id
        if other not in self.states:
            detail = f"it depends on {other}, which does not exist or cannot be read"
            return Reason(ReasonCode.MISSING, other, detail)
        if blocker.via == "depends_on":
            detail = f"it depends on {other}, which is {blocker.state}"
            return Reason(ReasonCode.DEPENDS_ON, other, detail, blocker.state)
        detail = f"{other} blocks it and is {blocker.state}"
        return Reason(ReasonCode.BLOCKS, other, detail, blocker.state)

    def _plan_blocker(self, record: PlanRecord, other: str) -> list[Reason]:
        state = self.states.get(other)
        if state is None:
            detail = (
                f"plan record {record.id} names {other}, which does not exist or cannot be read"
            )
            return [Reason(ReasonCode.MISSING, other, detail)]
        if state.finished:
            return []
        detail = f"plan record {record.id} holds it until {other}, which is {state}, is done"
        return [Reason(ReasonCode.PLAN_BLOCKED_BY, other, detail, state)]

    def holds(self, facts: TicketFacts) -> list[Reason]:
        reasons: list[Reason] = []
        for other, code, record_id in self.pairs.get(facts.id, ()):
            if other in self.running:
                verb = (
                    "conflicts with" if code is ReasonCode.CONFLICTS_WITH else "must not run beside"
                )
                detail = f"it {verb} {other}, which is running (plan record {record_id})"
                reasons.append(Reason(code, other, detail))
        mine = _parts(facts.write_surface)
        for other, theirs in sorted(self.surfaces.items()) if mine else ():
            shared = _overlap(mine, theirs)
            if shared:
                detail = f"it would write where {other} writes ({', '.join(shared)})"
                reasons.append(Reason(ReasonCode.WRITE_SURFACE, other, detail))
        return reasons

    def evidence(self, facts: TicketFacts) -> tuple[str, ...]:
        waits = [f"{r.kind} {r.target} ({self._state(r.target)})" for r in self._waits(facts.id)]
        waits += [
            f"{inverse.ticket_id} blocks it ({self._state(inverse.ticket_id)})"
            for inverse in self.graph.inverses(facts.id)
            if inverse.kind == "blocked_by"
        ]
        records = len(self.pairs.get(facts.id, ())) + len(self.plan_blocks.get(facts.id, ()))
        running = ", ".join(sorted(self.running)) or "none"
        limit = self.snapshot.config.max_parallel
        return (
            f"relations: {'; '.join(waits) or 'none that wait'}",
            f"plan records that pair or block it: {records}",
            f"running: {running} (max_parallel {limit})",
            f"write surface: {', '.join(facts.write_surface) or 'unknown'}",
        )

    def _waits(self, ticket_id: str) -> list[Relation]:
        owned = self.graph.forward(ticket_id)
        return sorted((r for r in owned if r.kind is RelationKind.DEPENDS_ON), key=_target)

    def _state(self, ticket_id: str) -> str:
        state = self.states.get(ticket_id)
        return "missing" if state is None else state.value

    def _surface(self, ticket_id: str) -> tuple[str, ...]:
        run = self.runs.get(ticket_id)
        if run is not None and run.write_surface:
            return surface_of(run.write_surface)
        facts = self.snapshot.tickets.get(ticket_id)
        return () if facts is None else facts.write_surface

    def _claim(self, ticket_id: str, surface: Sequence[str]) -> None:
        if surface:
            self.surfaces[ticket_id] = _parts(surface)


def _target(relation: Relation) -> str:
    return relation.target


def _plan_index(
    snapshot: Snapshot,
) -> tuple[dict[str, list[tuple[str, ReasonCode, str]]], dict[str, list[PlanRecord]]]:
    """Pairs that must not run at once (both ways round, one entry per pair and kind, its
    oldest record named), and the ``blocked_by`` records a person wrote, per ticket."""
    pairs: dict[str, dict[tuple[str, ReasonCode], str]] = {}
    blocks: dict[str, list[PlanRecord]] = {}
    own = snapshot.config.own_authors
    for record in snapshot.plans:
        other = record.related_ticket
        if other is None or other == record.ticket_id:
            continue
        code = _PAIRS.get(record.kind)
        if code is not None:
            for one, two in ((record.ticket_id, other), (other, record.ticket_id)):
                named = pairs.setdefault(one, {})
                named[(two, code)] = min(named.get((two, code), record.id), record.id)
        elif record.kind is PlanKind.BLOCKED_BY and record.author not in own:
            blocks.setdefault(record.ticket_id, []).append(record)
    ordered = {
        ticket_id: [(other, code, rid) for (other, code), rid in sorted(named.items())]
        for ticket_id, named in pairs.items()
    }
    for records in blocks.values():
        records.sort(key=lambda record: (record.related_ticket or "", record.id))
    return ordered, blocks


def _parts(surface: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(
        tuple(part for part in path.split("/") if part not in ("", ".")) for path in surface
    )


def _overlap(mine: Sequence[tuple[str, ...]], theirs: Sequence[tuple[str, ...]]) -> list[str]:
    """The paths where two surfaces meet: the deeper of each pair where one holds the other."""
    shared: set[str] = set()
    for one in mine:
        for two in theirs:
            short, long = (one, two) if len(one) <= len(two) else (two, one)
            if long[: len(short)] == short:
                shared.add("/".join(long) or ".")
    return sorted(shared)


def _checks(snapshot: Snapshot) -> tuple[RunCheck, ...]:
    ordered = sorted(snapshot.runs, key=lambda run: (run.ticket_id, run.phase))
    return tuple(_check(run, snapshot.tickets.get(run.ticket_id)) for run in ordered)


def _check(run: RunInFlight, facts: TicketFacts | None) -> RunCheck:
    if facts is None:
        return RunCheck(run.ticket_id, run.phase, RunVerdict.STOP, "its ticket no longer exists")
    if facts.state is State.CLOSED:
        return RunCheck(run.ticket_id, run.phase, RunVerdict.STOP, "a person closed its ticket")
    if facts.state in (State.PLANNING, State.READY):
        reason = f"its ticket was moved back to {facts.state}"
        return RunCheck(run.ticket_id, run.phase, RunVerdict.STOP, reason)
    return RunCheck(run.ticket_id, run.phase, RunVerdict.CONTINUE, f"its ticket is {facts.state}")
