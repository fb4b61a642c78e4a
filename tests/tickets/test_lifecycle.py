"""The lifecycle: which moves exist, what each writes, and when blockers hold a ticket back."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from itertools import product
from pathlib import Path

import pytest
from tests.tickets.rig import AUTHOR, START_MS, Clock, bring, make, new_store, snapshot

from yoi.errors import InvalidTransition, StateConflict, TicketBlocked
from yoi.tickets import (
    Blocker,
    EventKind,
    Notice,
    PlanKind,
    RelationKind,
    ReviewStatus,
    State,
    TicketStore,
)

P, R, Q, IP, D, C = (
    State.PLANNING,
    State.READY,
    State.QUEUED,
    State.INPROGRESS,
    State.DONE,
    State.CLOSED,
)
MOVES = {P: {R, C}, R: {Q, P, C}, Q: {IP, P, C}, IP: {D, P, C}, D: {C}, C: set()}
"""The issue's lifecycle (with in progress back to planning, which the orchestrator issue adds),
written out independently of the library's table."""
WAYS = {
    (P, Q): "planning → ready → queued",
    (P, IP): "planning → ready → queued → inprogress",
    (P, D): "planning → ready → queued → inprogress → done",
    (R, IP): "ready → queued → inprogress",
    (R, D): "ready → queued → inprogress → done",
    (Q, R): "queued → planning → ready",
    (Q, D): "queued → inprogress → done",
    (IP, R): "inprogress → planning → ready",
    (IP, Q): "inprogress → planning → ready → queued",
}


def test_the_table_covers_every_state() -> None:
    assert set(MOVES) == set(State)


@pytest.mark.parametrize(("source", "target"), list(product(State, State)))
def test_every_move_is_allowed_or_refused_naming_the_path(
    tmp_path: Path, source: State, target: State
) -> None:
    store = new_store(tmp_path)
    ticket = make(store, source)
    before = snapshot(store.root / ticket)
    resolution = "Done with." if target is C else None

    if target in MOVES[source]:
        meta = store.move(ticket, target, author=AUTHOR, resolution=resolution)
        assert meta.state is target
        assert store.get(ticket).meta.state is target
        moved = [e for e in store.get(ticket).events if e.kind == "state_changed"][-1]
        assert (moved.attr("from"), moved.attr("to"), moved.attr("field")) == (
            source,
            target,
            "state",
        )
        assert moved.attr("reason")
        return
    with pytest.raises(InvalidTransition) as refused:
        store.move(ticket, target, author=AUTHOR, resolution=resolution)
    message = refused.value.message
    if source is C:
        assert message == "a closed ticket stays closed"
    elif source is target:
        assert message == f"the ticket is already {source}"
    else:
        onward = ", ".join(sorted(s.value for s in MOVES[source]))
        assert (
            f"{source} → {target} is not a move; from {source} a ticket goes to {onward}" in message
        )
        way = WAYS.get((source, target))
        assert (f"the way to {target} is {way}" in message) if way else ("the way" not in message)
    assert refused.value.details == {"from": source.value, "to": target.value}
    assert snapshot(store.root / ticket) == before


def test_a_stale_expected_state_is_a_conflict(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store, R)
    before = snapshot(store.root / ticket)

    with pytest.raises(StateConflict) as conflict:
        store.move(ticket, Q, author=AUTHOR, expected=P)

    assert conflict.value.code == "state_conflict"
    assert conflict.value.details == {"ticket_id": ticket, "state": "ready"}
    assert snapshot(store.root / ticket) == before
    assert store.move(ticket, Q, author=AUTHOR, expected=R).state is Q


@pytest.mark.parametrize(
    ("summary", "written"),
    [(None, "Marked ready without a written intake summary."), ("Scope agreed.", "Scope agreed.")],
)
def test_mark_ready_writes_the_intake_summary_first(
    tmp_path: Path, summary: str | None, written: str
) -> None:
    store = new_store(tmp_path)
    ticket = make(store)

    store.move(ticket, R, author="intake", summary=summary)

    events = store.get(ticket).events
    assert [e.kind for e in events] == ["create", "intake_summary", "state_changed"]
    assert (events[1].author, events[1].heading, events[1].body) == (
        "intake",
        "Intake summary",
        written,
    )
    assert events[2].attrs == (
        ("from", "planning"),
        ("to", "ready"),
        ("reason", "ready"),
        ("field", "state"),
    )


def test_queueing_records_who_and_when(tmp_path: Path) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    ticket = make(store, R)
    stamp = clock.advance(42)

    store.move(ticket, Q, author="alice", reason="human_gate")

    detail = store.get(ticket)
    assert (detail.meta.queued_by, detail.meta.queued_at) == ("alice", stamp)
    assert detail.events[-1].attr("reason") == "human_gate"
    assert detail.events[-1].body == "Ticket queued by `alice`."


@pytest.mark.parametrize("source", [P, R, Q, IP, D])
def test_closing_writes_state_changed_resolution_and_close(tmp_path: Path, source: State) -> None:
    store = new_store(tmp_path)
    ticket = make(store, source)
    earlier = store.get(ticket).events

    store.move(ticket, C, author="bob", resolution="Not needed any more.")

    detail = store.get(ticket)
    assert detail.events[: len(earlier)] == earlier
    changed, close = detail.events[len(earlier) :]
    assert (changed.kind, changed.attr("from"), changed.attr("to")) == ("state_changed", source, C)
    assert (close.kind, close.author, close.attr("status")) == ("close", "bob", "closed")
    assert (close.heading, close.body) == ("Closed", "Not needed any more.")
    assert detail.resolution == "Not needed any more.\n"
    assert detail.meta.state is C


MUTATIONS: dict[str, Callable[[TicketStore, str, str], object]] = {
    "comment": lambda s, t, o: s.comment(t, "Hi.", author=AUTHOR, role=EventKind.DECISION),
    "review": lambda s, t, o: s.review(t, ReviewStatus.REQUEST_CHANGES, "Fix.", author=AUTHOR),
    "move": lambda s, t, o: s.move(t, R, author=AUTHOR),
    "close": lambda s, t, o: s.move(t, C, author=AUTHOR, resolution="Gone."),
    "relation": lambda s, t, o: s.add_relation(t, RelationKind.RELATED, o, author=AUTHOR),
    "plan": lambda s, t, o: s.add_plan(t, PlanKind.AFTER, author=AUTHOR, related_ticket=o),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_every_mutation_bumps_updated_at(tmp_path: Path, mutation: str) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    ticket, other = make(store), make(store)
    created = store.get(ticket).meta.created_at
    stamp = clock.advance(3600)

    MUTATIONS[mutation](store, ticket, other)

    meta = store.get(ticket).meta
    assert (meta.created_at, meta.updated_at) == (created, stamp)
    assert f"updated_at: '{stamp}'\n" in (store.root / ticket / "item.md").read_text("utf-8")
    assert store.get(other).meta.updated_at == created


def test_a_refused_move_bumps_nothing(tmp_path: Path) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    ticket = make(store)
    before = store.get(ticket).meta
    clock.advance(60)

    with pytest.raises(InvalidTransition):
        store.move(ticket, D, author=AUTHOR)

    assert store.get(ticket).meta == before


# blockers


def relate(store: TicketStore, ticket: str, other: str, via: str) -> None:
    """``ticket`` waits for ``other``: by its own depends_on, or by the other's blocks."""
    if via == "depends_on":
        store.add_relation(ticket, RelationKind.DEPENDS_ON, other, author=AUTHOR)
    else:
        store.add_relation(other, RelationKind.BLOCKS, ticket, author=AUTHOR)


@pytest.mark.parametrize("via", ["depends_on", "blocks"])
@pytest.mark.parametrize("other_state", list(State))
def test_a_blocker_gates_queueing_and_starting(
    tmp_path: Path, via: str, other_state: State
) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store, R), make(store)
    relate(store, ticket, other, via)
    bring(store, other, other_state)
    blocking = other_state not in (D, C)

    assert store.get(ticket).blockers == ((Blocker(other, other_state, via),) if blocking else ())
    if blocking and other_state not in (Q, IP):
        with pytest.raises(TicketBlocked) as blocked:
            store.move(ticket, Q, author=AUTHOR)
        assert blocked.value.details == {
            "blockers": [{"ticket_id": other, "state": other_state.value}]
        }
        assert f"{ticket} cannot be queued: it waits for {other} ({other_state})" == (
            blocked.value.message
        )
        assert store.get(ticket).meta.state is R
        return
    store.move(ticket, Q, author=AUTHOR)
    if blocking:
        with pytest.raises(TicketBlocked) as blocked:
            store.move(ticket, IP, author=AUTHOR)
        assert blocked.value.details["blockers"] == [
            {"ticket_id": other, "state": other_state.value}
        ]
        assert store.get(ticket).meta.state is Q
    else:
        assert store.move(ticket, IP, author=AUTHOR).state is IP


def test_a_missing_ticket_counts_as_planning(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket, gone = make(store, R), make(store, Q)
    store.add_relation(ticket, RelationKind.DEPENDS_ON, gone, author=AUTHOR)
    shutil.rmtree(store.root / gone)

    assert store.get(ticket).blockers == (Blocker(gone, P, "depends_on"),)
    with pytest.raises(TicketBlocked) as blocked:
        store.move(ticket, Q, author=AUTHOR)
    assert blocked.value.details == {"blockers": [{"ticket_id": gone, "state": "planning"}]}


@pytest.mark.parametrize(
    ("kind", "mine", "theirs"),
    [
        (RelationKind.RELATED, None, None),
        (
            RelationKind.SUPERSEDES,
            ("supersedes", "this ticket supersedes"),
            ("superseded_by", "this ticket is superseded by"),
        ),
        (
            RelationKind.DUPLICATE_OF,
            ("duplicate_of", "this ticket duplicates"),
            ("duplicated_by", "this ticket is duplicated by"),
        ),
    ],
)
def test_other_relations_never_block_but_some_give_notices(
    tmp_path: Path,
    kind: RelationKind,
    mine: tuple[str, str] | None,
    theirs: tuple[str, str] | None,
) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store, R), make(store)
    store.add_relation(ticket, kind, other, author=AUTHOR)

    def notices(of: str, on: str, about: tuple[str, str] | None) -> tuple[Notice, ...]:
        return () if about is None else (Notice(about[0], on, f"{about[1]} {on}"),)

    assert store.get(ticket).notices == notices(ticket, other, mine)
    assert store.get(other).notices == notices(other, ticket, theirs)
    assert store.get(ticket).blockers == store.get(other).blockers == ()
    store.move(ticket, Q, author=AUTHOR)
    assert store.move(ticket, IP, author=AUTHOR).state is IP


def test_queueing_waits_on_queued_blockers_and_starting_names_them_all(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket, a, b, c, done = make(store, R), make(store), make(store, R), make(store), make(store)
    relate(store, ticket, a, "depends_on")
    relate(store, ticket, b, "blocks")
    relate(store, ticket, c, "depends_on")
    relate(store, ticket, done, "blocks")
    bring(store, c, Q)
    bring(store, done, D)

    with pytest.raises(TicketBlocked) as blocked:
        store.move(ticket, Q, author=AUTHOR)
    assert blocked.value.details == {
        "blockers": [
            {"ticket_id": a, "state": "planning"},
            {"ticket_id": b, "state": "ready"},
        ]
    }
    bring(store, a, R)
    store.move(a, Q, author=AUTHOR)
    store.move(b, Q, author=AUTHOR)
    store.move(c, IP, author=AUTHOR)
    store.move(ticket, Q, author=AUTHOR)
    with pytest.raises(TicketBlocked) as blocked:
        store.move(ticket, IP, author=AUTHOR)
    assert blocked.value.details == {
        "blockers": [
            {"ticket_id": a, "state": "queued"},
            {"ticket_id": b, "state": "queued"},
            {"ticket_id": c, "state": "inprogress"},
        ]
    }
    assert blocked.value.message == (
        f"{ticket} cannot start: it waits for {a} (queued), {b} (queued), {c} (inprogress)"
    )


def test_the_ready_view_is_in_queue_order_and_explains_waiting(tmp_path: Path) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    a, b, c, d, e, f, idle = (make(store, R, title=t) for t in "abcdefg")
    relate(store, e, f, "depends_on")
    for ticket, at in [(c, 10), (f, 20), (d, 30), (a, 30), (b, 30), (e, 40)]:
        clock.now = START_MS + 1000 * at
        store.move(ticket, Q, author=AUTHOR)

    view = store.ready()

    assert [t.id for t in view.ready] == [c, f, a, b, d]
    assert [(w.ticket.id, w.blockers) for w in view.waiting] == [
        (e, (Blocker(f, Q, "depends_on"),))
    ]
    assert idle not in {t.id for t in view.ready}
    store.move(f, IP, author=AUTHOR)
    assert store.ready().waiting[0].blockers == (Blocker(f, IP, "depends_on"),)
    assert [t.id for t in store.ready().ready] == [c, a, b, d]
    store.move(f, D, author=AUTHOR)
    assert [t.id for t in store.ready().ready] == [c, a, b, d, e]
    assert store.ready().waiting == ()
