"""The policy over a real ticket store: a copy of the original yoi's own tickets, with new
queued tickets around them, decided as the board's ready view sees them."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.tickets.rig import Clock, copy_sample, make

from yoi.orchestrator.policy import ReasonCode, Routing, decide, explain
from yoi.orchestrator.policy_inputs import Snapshot
from yoi.tickets import PlanKind, RelationKind, State, TicketStore
from yoi.tickets.model import Relation
from yoi.tickets.relations import render_relations

PLANNING = "00001KVV01P5Z"
"""The sample's one ticket in planning."""
DONE = "00001KVZ9JGK0"
"""A done sample ticket, itself with depends_on relations and upstream plan records."""


def test_it_agrees_with_the_ready_view_of_the_sample_store(tmp_path: Path) -> None:
    clock = Clock()
    store = TicketStore(copy_sample(tmp_path) / ".yoi" / "tickets", clock=clock)

    def queued(title: str) -> str:
        clock.advance(60)
        return make(store, State.QUEUED, title)

    dependency = queued("Dependency")
    waiter = store.create("Waits for the dependency", "Body.\n", author="person").id
    store.add_relation(waiter, RelationKind.DEPENDS_ON, dependency, author="person")
    store.add_relation(waiter, RelationKind.DEPENDS_ON, DONE, author="person")
    clock.advance(60)
    store.move(waiter, State.READY, author="person")
    store.move(waiter, State.QUEUED, author="person")
    authority = queued("Waits for a ticket nobody queued")
    store.add_relation(authority, RelationKind.DEPENDS_ON, PLANNING, author="person")
    conflicted = queued("Touches what the dependency touches")
    store.add_plan(
        conflicted, PlanKind.CONFLICTS_WITH, author="person", related_ticket=dependency, note="x"
    )
    free = queued("Free")
    one, two = queued("Cycle one"), queued("Cycle two")
    for owner, target in ((one, two), (two, one)):
        # Made by hand (or by a merge): the store itself refuses to close a cycle.
        relations = render_relations([Relation(owner, RelationKind.DEPENDS_ON, target)])
        (store.root / owner / "artifacts" / "relations.json").write_text(relations)
    orphan = queued("Depends on a ticket that was deleted")
    deleted = make(store, State.PLANNING, "Deleted")
    store.add_relation(orphan, RelationKind.DEPENDS_ON, deleted, author="person")
    shutil.rmtree(store.root / deleted)

    snapshot = Snapshot.of(store.catalog(), plans=store.plans())
    result = decide(snapshot)
    view = store.ready()

    blocked = [d.ticket_id for d in result.decisions if d.routing is Routing.BLOCKED]
    others = [d.ticket_id for d in result.decisions if d.routing is not Routing.BLOCKED]
    assert blocked == [waiting.ticket.id for waiting in view.waiting]
    assert others == [summary.id for summary in view.ready]
    assert set(blocked) == {waiter, authority, one, two, orphan}
    assert result.start == (dependency, free)

    def reasons(ticket_id: str) -> list[tuple[ReasonCode, str | None]]:
        decision = result.decision(ticket_id)
        assert decision is not None
        return [(reason.code, reason.ticket_id) for reason in decision.reasons]

    assert reasons(waiter) == [(ReasonCode.DEPENDS_ON, dependency)]
    assert reasons(conflicted) == [(ReasonCode.CONFLICTS_WITH, dependency)]
    assert reasons(orphan) == [(ReasonCode.MISSING, deleted)]
    assert result.cycles == ((one, two),)
    assert reasons(one)[0] == (ReasonCode.CYCLE, two)
    needs_person = result.decision(authority)
    assert needs_person is not None
    assert needs_person.next_action == f"a person queues {PLANNING}, or removes the relation"
    waiting = result.decision(waiter)
    assert waiting is not None
    assert f"depends_on {DONE} (done)" in waiting.evidence[0]

    assert explain(snapshot, PLANNING).sentence == (
        f"{PLANNING}: it is in planning: a person marks it ready, then queues it."
    )
