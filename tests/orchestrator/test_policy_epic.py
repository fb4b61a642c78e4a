"""The seed epic through the policy and the recorder, with the workers' part simulated: every
pass records its decisions on the tickets, starts what it may, and one run finishes between
passes. The order respects every dependency, at most two run at once, and each ticket's thread
holds a decision only when it changed."""

from __future__ import annotations

from pathlib import Path

from tests.orchestrator.epic import EPIC, dependencies, seed_epic
from tests.tickets.rig import Clock, new_store

from yoi.orchestrator import PolicyConfig, RunInFlight, Snapshot, TicketRecorder, decide
from yoi.orchestrator.policy_decision import Routing
from yoi.orchestrator.records import ACCEPTANCE_REASON, DONE_REASON
from yoi.orchestrator.records_decision import notes_of, record_of
from yoi.tickets import State
from yoi.tickets.model import EventKind, PlanKind

MAX_PARALLEL = 2


def test_the_seed_epic_finishes_in_dependency_order_two_at_a_time(tmp_path: Path) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    made = seed_epic(store)
    sample_of = {new: sample for sample, new in made.items()}
    recorder = TicketRecorder(store)
    running: list[str] = []
    finished: list[str] = []
    most = 0
    for _ in range(4 * len(EPIC)):
        clock.advance(1)
        runs = tuple(RunInFlight(ticket, "implementing") for ticket in running)
        snapshot = Snapshot.of(
            store.catalog(),
            plans=store.plans(),
            runs=runs,
            config=PolicyConfig(max_parallel=MAX_PARALLEL),
        )
        passed = decide(snapshot)
        for decision in passed.decisions:
            if decision.routing is not Routing.IMPLEMENTATION_READY:
                recorder.decide(decision.ticket_id, record_of(decision), notes_of(decision))
        for ticket in passed.start:
            store.move(ticket, State.INPROGRESS, author="orchestrator", reason=ACCEPTANCE_REASON)
            running.append(ticket)
        most = max(most, len(running))
        if not running:
            break
        done = running.pop(0)
        store.move(done, State.DONE, author="orchestrator", reason=DONE_REASON)
        finished.append(sample_of[done])
    assert sorted(finished) == sorted(EPIC)
    assert most == MAX_PARALLEL
    for sample, needs in dependencies().items():
        for target in needs:
            assert finished.index(target) < finished.index(sample), (sample, target)
    for ticket in made.values():
        detail = store.get(ticket)
        decisions = [e for e in detail.events if e.kind is EventKind.DECISION]
        texts = [e.body for e in decisions]
        assert len(texts) == len(set(texts)), f"{ticket} has a decision written twice"
        assert detail.meta.state is State.DONE
    blocked = [p for p in store.plans() if p.kind is PlanKind.BLOCKED_BY]
    assert blocked, "tickets that waited for a dependency say so in their plan records"
