"""The policy on hand-built graphs: what blocks, what holds, what starts, and in which order."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from yoi.errors import InvalidRequest, InvalidTicketId, TicketNotFound
from yoi.orchestrator.policy import (
    Pass,
    ReasonCode,
    Routing,
    RunVerdict,
    decide,
    explain,
)
from yoi.orchestrator.policy_inputs import PolicyConfig, RunInFlight, Snapshot, TicketFacts
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.tickets.ids import encode_id
from yoi.tickets.model import PlanKind, PlanRecord, Relation, RelationKind, State

START_MS = 1_780_000_000_000
A, B, C, D, E, F, G = (encode_id(START_MS + 1000 * n) for n in range(7))
GONE = encode_id(START_MS - 1000)
"""An id no ticket of these graphs has."""

Q, P, R, IP, DONE, CLOSED = (
    State.QUEUED,
    State.PLANNING,
    State.READY,
    State.INPROGRESS,
    State.DONE,
    State.CLOSED,
)


def ticket(ticket_id: str, state: State = Q, at: str | None = None, *surface: str) -> TicketFacts:
    queued = at if at is not None else ("2026-01-01T00:00:00Z" if state is Q else None)
    return TicketFacts(ticket_id, state, f"Ticket {ticket_id}", queued, tuple(surface))


def depends(owner: str, *targets: str) -> tuple[Relation, ...]:
    return tuple(Relation(owner, RelationKind.DEPENDS_ON, target) for target in targets)


def plan(owner: str, kind: PlanKind, other: str, author: str = "person") -> PlanRecord:
    return PlanRecord(f"orch-plan-20260101-000000-{owner[-3:]}", owner, kind, author, "t", other)


def snapshot(
    tickets: Iterable[TicketFacts],
    relations: Iterable[Relation] = (),
    *,
    plans: Iterable[PlanRecord] = (),
    runs: Iterable[RunInFlight] = (),
    max_parallel: int = 2,
) -> Snapshot:
    owned: dict[str, tuple[Relation, ...]] = {}
    for relation in relations:
        owned[relation.ticket_id] = (*owned.get(relation.ticket_id, ()), relation)
    return Snapshot(
        {facts.id: facts for facts in tickets},
        owned,
        tuple(plans),
        tuple(runs),
        PolicyConfig(max_parallel=max_parallel),
    )


def routing(result: Pass, ticket_id: str) -> Routing:
    decision = result.decision(ticket_id)
    assert decision is not None, f"no decision for {ticket_id}"
    return decision.routing


def codes(result: Pass, ticket_id: str) -> list[tuple[ReasonCode, str | None]]:
    decision = result.decision(ticket_id)
    assert decision is not None
    return [(reason.code, reason.ticket_id) for reason in decision.reasons]


# dependencies


def test_an_unfinished_dependency_blocks_and_the_dependency_starts() -> None:
    result = decide(snapshot([ticket(A), ticket(B)], depends(A, B)))
    assert result.start == (B,)
    assert routing(result, A) is Routing.BLOCKED
    assert codes(result, A) == [(ReasonCode.DEPENDS_ON, B)]
    decision = result.decision(A)
    assert decision is not None
    assert decision.reason == f"{A} has not started: it depends on {B}, which is queued."
    assert decision.next_action == f"wait for {B} to be done; a later pass starts it"


@pytest.mark.parametrize("finished", [DONE, CLOSED])
def test_a_done_or_closed_dependency_is_satisfied(finished: State) -> None:
    result = decide(snapshot([ticket(A), ticket(B, finished)], depends(A, B)))
    assert result.start == (A,)
    assert routing(result, A) is Routing.IMPLEMENTATION_READY


def test_a_ticket_that_blocks_holds_its_target() -> None:
    blocks = Relation(B, RelationKind.BLOCKS, A)
    result = decide(snapshot([ticket(A, at="1"), ticket(B, IP)], [blocks]))
    assert codes(result, A) == [(ReasonCode.BLOCKS, B)]
    assert result.start == ()


def test_related_supersedes_and_duplicate_relations_hold_nothing() -> None:
    relations = [
        Relation(A, kind, B)
        for kind in (RelationKind.RELATED, RelationKind.SUPERSEDES, RelationKind.DUPLICATE_OF)
    ]
    result = decide(snapshot([ticket(A), ticket(B, P)], relations))
    assert result.start == (A,)


def test_a_missing_target_blocks_and_names_the_person_who_must_act() -> None:
    result = decide(snapshot([ticket(A)], depends(A, GONE)))
    assert codes(result, A) == [(ReasonCode.MISSING, GONE)]
    decision = result.decision(A)
    assert decision is not None
    assert decision.routing is Routing.BLOCKED
    assert "does not exist" in decision.reason
    assert decision.next_action == f"a person removes or corrects the relation to {GONE}"
    assert decision.escalate_if.startswith("now")


@pytest.mark.parametrize("unqueued", [P, R])
def test_a_dependency_nobody_queued_is_missing_authority(unqueued: State) -> None:
    result = decide(snapshot([ticket(A), ticket(B, unqueued)], depends(A, B)))
    decision = result.decision(A)
    assert decision is not None
    assert decision.routing is Routing.BLOCKED
    assert decision.next_action == f"a person queues {B}, or removes the relation"
    assert decision.escalate_if.startswith("now")


# cycles


def test_a_cycle_is_reported_on_each_ticket_instead_of_deadlocking() -> None:
    relations = depends(A, B) + depends(B, C) + depends(C, A) + depends(D, A)
    result = decide(snapshot([ticket(A), ticket(B), ticket(C), ticket(D)], relations))
    assert result.start == ()
    assert result.cycles == ((A, B, C),)
    for member, along in ((A, "A B C A"), (B, "B C A B"), (C, "C A B C")):
        decision = result.decision(member)
        assert decision is not None
        assert decision.routing is Routing.BLOCKED
        cycle = [r for r in decision.reasons if r.code is ReasonCode.CYCLE]
        names = dict(zip("ABC", (A, B, C), strict=True))
        assert len(cycle) == 1
        assert cycle[0].detail.endswith(" → ".join(names[n] for n in along.split()))
        assert "breaks the cycle" in decision.next_action
    # D waits on the cycle but is not on it: it is blocked by its dependency alone.
    assert codes(result, D) == [(ReasonCode.DEPENDS_ON, A)]


def test_each_member_of_a_tangle_is_named_with_a_cycle_through_itself() -> None:
    # A <-> B and B <-> C: one tangle; the library reports one cycle, C needs its own.
    relations = depends(A, B) + depends(B, A, C) + depends(C, B)
    result = decide(snapshot([ticket(A), ticket(B), ticket(C)], relations))
    assert len(result.cycles) == 1
    for member in (A, B, C):
        decision = result.decision(member)
        assert decision is not None
        cycle = [r for r in decision.reasons if r.code is ReasonCode.CYCLE]
        assert len(cycle) == 1
        along = cycle[0].detail.removeprefix("it is on the dependency cycle ").split(" → ")
        assert along[0] == along[-1] == member
        waits = {(r.ticket_id, r.target) for r in relations}
        assert all(step in waits for step in itertools.pairwise(along))


def test_a_cycle_through_a_finished_ticket_is_no_deadlock() -> None:
    relations = depends(A, B) + depends(B, A)
    result = decide(snapshot([ticket(A), ticket(B, DONE)], relations))
    assert result.cycles == ()
    assert result.start == (A,)


def test_a_blocks_relation_closes_a_cycle_too() -> None:
    relations = [*depends(A, B), Relation(A, RelationKind.BLOCKS, B)]
    result = decide(snapshot([ticket(A), ticket(B)], relations))
    assert result.cycles == ((A, B),)
    assert all(routing(result, t) is Routing.BLOCKED for t in (A, B))


# plan records


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (PlanKind.CONFLICTS_WITH, ReasonCode.CONFLICTS_WITH),
        (PlanKind.DO_NOT_PARALLELIZE, ReasonCode.DO_NOT_PARALLELIZE),
    ],
)
@pytest.mark.parametrize("owner", ["waiting", "running"])
def test_a_pair_record_holds_either_ticket_while_the_other_runs(
    kind: PlanKind, code: ReasonCode, owner: str
) -> None:
    record = plan(A, kind, B) if owner == "waiting" else plan(B, kind, A)
    result = decide(snapshot([ticket(A), ticket(B, IP)], plans=[record]))
    assert routing(result, A) is Routing.WAITING_CAPACITY
    assert codes(result, A) == [(code, B)]
    decision = result.decision(A)
    assert decision is not None
    assert decision.next_action == f"wait for {B} to finish; a later pass starts it"


def test_a_pair_record_lets_one_start_and_holds_the_next_in_the_same_pass() -> None:
    tickets = [ticket(A, Q, "1"), ticket(B, Q, "2"), ticket(C, Q, "3")]
    result = decide(snapshot(tickets, plans=[plan(B, PlanKind.CONFLICTS_WITH, A)], max_parallel=3))
    assert result.start == (A, C)
    assert codes(result, B) == [(ReasonCode.CONFLICTS_WITH, A)]


def test_a_pair_record_with_a_ticket_that_is_not_running_holds_nothing() -> None:
    for other in (P, DONE, CLOSED, R):
        result = decide(
            snapshot([ticket(A), ticket(B, other)], plans=[plan(A, PlanKind.CONFLICTS_WITH, B)])
        )
        assert result.start == (A,)


def test_a_persons_blocked_by_record_blocks_until_the_ticket_is_done() -> None:
    record = plan(A, PlanKind.BLOCKED_BY, B)
    blocked = decide(snapshot([ticket(A), ticket(B, IP)], plans=[record]))
    assert codes(blocked, A) == [(ReasonCode.PLAN_BLOCKED_BY, B)]
    assert routing(blocked, A) is Routing.BLOCKED
    released = decide(snapshot([ticket(A), ticket(B, DONE)], plans=[record]))
    assert released.start == (A,)
    missing = decide(snapshot([ticket(A)], plans=[plan(A, PlanKind.BLOCKED_BY, GONE)]))
    assert codes(missing, A) == [(ReasonCode.MISSING, GONE)]


@pytest.mark.parametrize("author", ["yoi-orchestrator", "orchestrator"])
def test_the_orchestrators_own_blocked_by_notes_hold_nothing(author: str) -> None:
    # They record a relation it read; a person who removes the relation frees the ticket.
    record = plan(A, PlanKind.BLOCKED_BY, B, author=author)
    result = decide(snapshot([ticket(A), ticket(B, P)], plans=[record]))
    assert result.start == (A,)


def test_capacity_notes_and_accepted_plans_hold_nothing() -> None:
    records = [
        PlanRecord("n1", A, PlanKind.WAITING_CAPACITY_NOTE, "person", "t", note="wait"),
        PlanRecord("n2", A, PlanKind.ACCEPTED_PLAN, "person", "t", accepted_plan={"summary": "x"}),
    ]
    assert decide(snapshot([ticket(A)], plans=records)).start == (A,)


# write surfaces


def test_an_overlapping_write_surface_holds_a_ticket() -> None:
    run = RunInFlight(B, "implementing", ("src/yoi/tickets/",))
    tickets = [ticket(A, Q, None, "src/yoi/tickets/store.py"), ticket(B, IP)]
    result = decide(snapshot(tickets, runs=[run], max_parallel=3))
    assert codes(result, A) == [(ReasonCode.WRITE_SURFACE, B)]
    decision = result.decision(A)
    assert decision is not None
    assert decision.reason.endswith(f"it would write where {B} writes (src/yoi/tickets/store.py).")


def test_disjoint_or_unknown_surfaces_do_not_hold() -> None:
    run = RunInFlight(B, "implementing", ("src/yoi/tickets",))
    tickets = [
        ticket(A, Q, "1", "src/yoi/tickets_extra.py"),
        ticket(C, Q, "2"),
        ticket(B, IP),
    ]
    result = decide(snapshot(tickets, runs=[run], max_parallel=4))
    assert result.start == (A, C)


def test_a_surface_started_in_this_pass_holds_later_ones_and_the_tree_holds_all() -> None:
    tickets = [
        ticket(A, Q, "1", "./src//a.py"),
        ticket(B, Q, "2", "src/a.py"),
        ticket(C, Q, "3", "docs"),
    ]
    result = decide(snapshot(tickets, max_parallel=5))
    assert result.start == (A, C)
    assert codes(result, B) == [(ReasonCode.WRITE_SURFACE, A)]
    whole = decide(snapshot([ticket(A, Q, "1", "."), ticket(B, Q, "2", "x/y")], max_parallel=5))
    assert whole.start == (A,)


def test_an_in_progress_ticket_without_a_run_lends_its_expected_surface() -> None:
    tickets = [ticket(A, Q, None, "pkg/mod.py"), ticket(B, IP, None, "pkg")]
    result = decide(snapshot(tickets, max_parallel=3))
    assert codes(result, A) == [(ReasonCode.WRITE_SURFACE, B)]


# capacity and order


def test_capacity_counts_runs_and_in_progress_tickets() -> None:
    tickets = [ticket(A, Q, "1"), ticket(B, Q, "2"), ticket(C, Q, "3"), ticket(D, IP)]
    result = decide(snapshot(tickets, max_parallel=2))
    assert result.start == (A,)
    for waiting in (B, C):
        assert routing(result, waiting) is Routing.WAITING_CAPACITY
        assert codes(result, waiting) == [(ReasonCode.CAPACITY, None)]
    decision = result.decision(B)
    assert decision is not None
    assert decision.reason == f"{B} has not started: all 2 slots are taken."
    assert "free slot" in decision.next_action


def test_no_slot_left_starts_nothing() -> None:
    tickets = [ticket(A), ticket(B, IP), ticket(C, IP), ticket(D, IP)]
    assert decide(snapshot(tickets, max_parallel=2)).start == ()


def test_tickets_start_in_queued_at_then_id_order() -> None:
    tickets = [
        ticket(E, Q, "2026-01-02T00:00:00Z"),
        ticket(C, Q, "2026-01-01T00:00:00Z"),
        ticket(B, Q, "2026-01-01T00:00:00Z"),
        ticket(A, Q, "2026-01-03T00:00:00Z"),
        TicketFacts(D, Q, "no queued_at"),
    ]
    result = decide(snapshot(tickets, max_parallel=3))
    assert [d.ticket_id for d in result.decisions] == [D, B, C, E, A]
    assert result.start == (D, B, C)


def test_only_queued_tickets_start() -> None:
    tickets = [ticket(t, s) for t, s in zip((A, B, C, D, E), (P, R, IP, DONE, CLOSED), strict=True)]
    result = decide(snapshot(tickets, max_parallel=10))
    assert result.start == ()
    assert result.decisions == ()


# runs in flight


def test_runs_in_flight_are_checked_against_their_tickets() -> None:
    runs = [
        RunInFlight(A, "accepting"),
        RunInFlight(B, "implementing"),
        RunInFlight(C, "cleaning_up"),
        RunInFlight(D, "reviewing"),
        RunInFlight(E, "implementing"),
        RunInFlight(GONE, "merging"),
    ]
    tickets = [ticket(A, Q), ticket(B, IP), ticket(C, DONE), ticket(D, CLOSED), ticket(E, P)]
    result = decide(snapshot(tickets, runs=runs, max_parallel=10))
    verdicts = {check.ticket_id: check.verdict for check in result.runs}
    assert verdicts == {
        A: RunVerdict.CONTINUE,
        B: RunVerdict.CONTINUE,
        C: RunVerdict.CONTINUE,
        D: RunVerdict.STOP,
        E: RunVerdict.STOP,
        GONE: RunVerdict.STOP,
    }
    # A queued ticket whose run has begun is not started twice, nor decided again.
    assert result.start == ()
    assert result.decision(A) is None


def test_a_queued_ticket_with_a_run_takes_a_slot() -> None:
    tickets = [ticket(A, Q, "1"), ticket(B, Q, "2")]
    result = decide(snapshot(tickets, runs=[RunInFlight(A, "accepting")], max_parallel=1))
    assert result.start == ()
    assert codes(result, B) == [(ReasonCode.CAPACITY, None)]


# sentences


def test_a_sentence_depends_only_on_what_holds_the_ticket() -> None:
    # The same hold in another phase of the other run, with more tickets queued around it,
    # reads the same: a recorder writes a decision once per change, not once per pass.
    def sentence(phase: str, extra: list[TicketFacts]) -> str:
        run = RunInFlight(B, phase)
        record = plan(A, PlanKind.CONFLICTS_WITH, B)
        result = decide(snapshot([ticket(A), ticket(B, IP), *extra], plans=[record], runs=[run]))
        decision = result.decision(A)
        assert decision is not None
        return decision.reason

    assert sentence("implementing", []) == sentence("reviewing", [ticket(C, Q, "0")])


def test_the_same_snapshot_gives_the_same_pass() -> None:
    tickets = [ticket(A, Q, "1"), ticket(B, Q, "2"), ticket(C, IP, None, "a")]
    shot = snapshot(tickets, depends(B, C), plans=[plan(A, PlanKind.CONFLICTS_WITH, C)])
    assert decide(shot) == decide(shot)


# explain


def test_explain_a_waiting_ticket_in_one_sentence_and_reasons() -> None:
    shot = snapshot([ticket(A), ticket(B, IP)], depends(A, B))
    explained = explain(shot, A.lower())
    assert explained.ticket_id == A
    assert explained.sentence == f"{A} has not started: it depends on {B}, which is inprogress."
    assert [(r.code, r.ticket_id) for r in explained.reasons] == [(ReasonCode.DEPENDS_ON, B)]
    assert explained.decision is not None
    assert explained.decision.routing is Routing.BLOCKED


@pytest.mark.parametrize(
    ("state", "says"),
    [
        (P, "is in planning: a person marks it ready, then queues it"),
        (R, "is ready but not queued: a person queues it"),
        (IP, "is in progress, with no run of the orchestrator"),
        (DONE, "is done"),
        (CLOSED, "is closed"),
    ],
)
def test_explain_a_ticket_that_is_not_queued(state: State, says: str) -> None:
    explained = explain(snapshot([ticket(A, state)]), A)
    assert says in explained.sentence
    assert [r.code for r in explained.reasons] == [ReasonCode.NOT_QUEUED]
    assert explained.decision is None


def test_explain_a_ticket_whose_run_has_begun() -> None:
    shot = snapshot(
        [ticket(A, Q), ticket(B, IP)],
        runs=[RunInFlight(A, "accepting"), RunInFlight(B, "reviewing")],
    )
    assert explain(shot, A).sentence == f"{A}: it has started: its run is accepting."
    assert explain(shot, B).sentence == f"{B}: it is inprogress: its run is reviewing."
    assert explain(shot, B).reasons[0].code is ReasonCode.IN_FLIGHT


def test_explain_refuses_a_bad_or_unknown_id() -> None:
    shot = snapshot([ticket(A)])
    with pytest.raises(InvalidTicketId):
        explain(shot, "../etc/passwd")
    with pytest.raises(TicketNotFound) as caught:
        explain(shot, GONE)
    assert caught.value.code == "ticket_not_found"


# configuration


def test_max_parallel_comes_from_the_settings_and_must_be_positive() -> None:
    assert PolicyConfig.of(OrchestratorSettings(max_parallel=5)).max_parallel == 5
    assert PolicyConfig().max_parallel == 2
    for bad in (0, -1):
        with pytest.raises(InvalidRequest):
            PolicyConfig(max_parallel=bad)
