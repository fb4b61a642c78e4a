"""The store: ids, relations, plan records, the lock, and the reads built on them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from tests.tickets.rig import AUTHOR, START_MS, Clock, copy_sample, make, new_store, snapshot

from yoi.errors import (
    DuplicateRelation,
    InvalidRequest,
    InvalidTicketId,
    StoreError,
    StoreLocked,
    TicketNotFound,
    YoiError,
)
from yoi.tickets import (
    COMMENT_ROLES,
    EventKind,
    Inverse,
    PlanKind,
    RelationKind,
    ReviewStatus,
    State,
    TicketStore,
)
from yoi.tickets.doctor import diagnose
from yoi.tickets.ids import decode_id, encode_id, is_ticket_id

# ids

EDGES = [0, 1, 31, 32, 1023, 1024, 10**12, START_MS, START_MS + 1, 32**13 - 1]


@pytest.mark.parametrize("milliseconds", EDGES)
def test_ids_encode_and_decode(milliseconds: int) -> None:
    ticket = encode_id(milliseconds)

    assert len(ticket) == 13
    assert is_ticket_id(ticket)
    assert decode_id(ticket) == milliseconds


def test_ids_use_crockford_digits_and_sort_in_creation_order() -> None:
    assert "".join(encode_id(n)[-1] for n in range(32)) == "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    assert (encode_id(0), encode_id(32**13 - 1)) == ("0" * 13, "Z" * 13)
    assert sorted(encode_id(n) for n in reversed(EDGES)) == [encode_id(n) for n in EDGES]
    for outside in (-1, 32**13):
        with pytest.raises(ValueError, match="does not fit"):
            encode_id(outside)


def test_a_taken_millisecond_moves_to_the_next(tmp_path: Path) -> None:
    store = new_store(tmp_path, Clock())
    (store.root / encode_id(START_MS + 2)).mkdir(parents=True)  # taken, though not a ticket

    made = [store.create(f"T{n}", "", author=AUTHOR) for n in range(3)]

    assert [t.id for t in made] == [encode_id(START_MS + k) for k in (0, 1, 3)]
    assert {t.meta.created_at for t in made} == {"2026-01-02T03:04:05Z"}
    assert [store.get(t.id).meta.title for t in made] == ["T0", "T1", "T2"]


def test_no_free_id_within_a_second_is_a_store_error(tmp_path: Path) -> None:
    store = new_store(tmp_path, Clock())
    for offset in range(1000):
        (store.root / encode_id(START_MS + offset)).mkdir(parents=True)

    with pytest.raises(StoreError, match="no free ticket id within 1000 ms"):
        store.create("Crowded", "", author=AUTHOR)

    assert len(list(store.root.iterdir())) == 1001  # the folders and the lock file
    assert store.listing().total == 0


BAD_IDS = [
    "00001KDYAK34U",
    "00001kdyak34u",
    "00001-DYAK348",
    "00001KDYAK34\u0130",
    "00001KDYAK34",
    "00001KDYAK3480",
    "00001KDYAK348\n",
    " 00001KDYAK348",
    "../x",
    "a/b",
    "../00001KDYAK3",
    "",
]
OWNER_OPERATIONS: dict[str, Callable[[TicketStore, str], object]] = {
    "get": lambda s, t: s.get(t),
    "comment": lambda s, t: s.comment(t, "x", author=AUTHOR),
    "review": lambda s, t: s.review(t, ReviewStatus.APPROVE, "x", author=AUTHOR),
    "move": lambda s, t: s.move(t, State.READY, author=AUTHOR),
    "close": lambda s, t: s.move(t, State.CLOSED, author=AUTHOR, resolution="x"),
    "relation": lambda s, t: s.add_relation(
        t, RelationKind.RELATED, encode_id(START_MS), author=AUTHOR
    ),
    "plan": lambda s, t: s.add_plan(t, PlanKind.WAITING_CAPACITY_NOTE, author=AUTHOR, note="x"),
    "plans": lambda s, t: s.plans(ticket_id=t),
    "relations": lambda s, t: s.relations(ticket_id=t),
}


@pytest.mark.parametrize("operation", OWNER_OPERATIONS)
@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_id_is_refused_before_any_file_is_touched(
    tmp_path: Path, bad: str, operation: str
) -> None:
    store = new_store(tmp_path / "inside")

    with pytest.raises(InvalidTicketId) as refused:
        OWNER_OPERATIONS[operation](store, bad)

    assert refused.value.code == "invalid_ticket_id"
    assert "13 characters of Crockford base 32" in refused.value.message
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("bad", ["../x", "a/b", "00001kdyak34u"])
def test_a_bad_relation_target_is_refused_before_any_file_is_touched(
    tmp_path: Path, bad: str
) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    before = snapshot(tmp_path)

    with pytest.raises(InvalidTicketId) as refused:
        store.add_relation(ticket, RelationKind.DEPENDS_ON, bad, author=AUTHOR)

    assert refused.value.details == {"field": "target"}
    assert snapshot(tmp_path) == before


# relations


def test_relations_refuse_self_duplicates_and_missing_targets(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store), make(store)
    store.add_relation(ticket, RelationKind.DEPENDS_ON, other, author=AUTHOR)
    before = snapshot(store.root)

    with pytest.raises(InvalidRequest, match="cannot relate to itself"):
        store.add_relation(ticket, RelationKind.RELATED, ticket, author=AUTHOR)
    with pytest.raises(DuplicateRelation) as duplicate:
        store.add_relation(ticket, RelationKind.DEPENDS_ON, other, author=AUTHOR, note="again")
    with pytest.raises(TicketNotFound) as missing:
        store.add_relation(ticket, RelationKind.BLOCKS, encode_id(START_MS - 1), author=AUTHOR)

    assert duplicate.value.details == {"ticket_id": ticket, "kind": "depends_on", "target": other}
    assert missing.value.details == {"ticket_id": encode_id(START_MS - 1)}
    assert snapshot(store.root) == before
    store.add_relation(ticket, RelationKind.RELATED, other, author=AUTHOR)
    assert [r.kind for r in store.relations(ticket_id=ticket)] == [
        RelationKind.DEPENDS_ON,
        RelationKind.RELATED,
    ]


@pytest.mark.parametrize(
    ("kind", "inverse"),
    [
        (RelationKind.DEPENDS_ON, "dependency_of"),
        (RelationKind.BLOCKS, "blocked_by"),
        (RelationKind.RELATED, "related"),
        (RelationKind.SUPERSEDES, "superseded_by"),
        (RelationKind.DUPLICATE_OF, "duplicated_by"),
    ],
)
def test_inverses_are_derived_never_stored(
    tmp_path: Path, kind: RelationKind, inverse: str
) -> None:
    store = new_store(tmp_path)
    owner, target = make(store), make(store)

    relation = store.add_relation(owner, kind, target, author="carol", note="Why.")

    assert (relation.ticket_id, relation.author, relation.at) == (
        owner,
        "carol",
        "2026-01-02T03:04:05Z",
    )
    assert store.get(target).inverses == (Inverse(owner, inverse, "Why."),)
    assert store.get(target).relations == ()
    assert store.get(owner).inverses == ()
    assert not (store.root / target / "artifacts" / "relations.json").exists()
    assert store.relations(kind=kind) == [relation]


def test_relations_can_be_listed_by_owner_and_kind(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    a, b, c = make(store), make(store), make(store)
    ab = store.add_relation(a, RelationKind.BLOCKS, b, author=AUTHOR)
    ac = store.add_relation(a, RelationKind.DEPENDS_ON, c, author=AUTHOR)
    cb = store.add_relation(c, RelationKind.BLOCKS, b, author=AUTHOR)

    assert store.relations() == [ac, ab, cb]
    assert store.relations(ticket_id=a) == [ac, ab]
    assert store.relations(kind=RelationKind.BLOCKS) == [ab, cb]
    assert store.relations(ticket_id=b) == []


def test_a_broken_relations_file_refuses_new_relations(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store), make(store)
    broken = store.root / ticket / "artifacts" / "relations.json"
    broken.write_text('{"version": 1, "relations": [{"kind": "nope"}]}\n', encoding="utf-8")

    with pytest.raises(InvalidRequest, match="yoi ticket doctor"):
        store.add_relation(ticket, RelationKind.RELATED, other, author=AUTHOR)

    assert broken.read_text(encoding="utf-8").count("nope") == 1
    assert store.get(ticket).problems == (
        "relation 1: names ticket_id None, not its owner " + ticket,
    )


# plan records


@pytest.mark.parametrize("kind", list(PlanKind)[:6])
def test_ordering_records_need_a_related_ticket(tmp_path: Path, kind: PlanKind) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    before = snapshot(store.root)

    with pytest.raises(InvalidRequest, match=f"a {kind} record needs a related_ticket"):
        store.add_plan(ticket, kind, author=AUTHOR)
    with pytest.raises(InvalidRequest, match="needs a related_ticket that is a ticket id"):
        store.add_plan(ticket, kind, author=AUTHOR, related_ticket="../x")
    with pytest.raises(TicketNotFound):
        store.add_plan(ticket, kind, author=AUTHOR, related_ticket=encode_id(1))

    assert snapshot(store.root) == before


@pytest.mark.parametrize(
    ("kind", "options", "problem"),
    [
        (PlanKind.WAITING_CAPACITY_NOTE, {}, "needs a note"),
        (PlanKind.WAITING_CAPACITY_NOTE, {"note": "   "}, "must not be empty"),
        (PlanKind.WAITING_CAPACITY_NOTE, {"note": "x", "related_ticket": "R"}, "takes no"),
        (PlanKind.ACCEPTED_PLAN, {}, "accepted_plan needs a summary"),
        (PlanKind.ACCEPTED_PLAN, {"accepted_plan": {"summary": " "}}, "needs a summary"),
        (PlanKind.ACCEPTED_PLAN, {"accepted_plan": {"summary": "s", "x": 1}}, "unknown fields: x"),
        (PlanKind.ACCEPTED_PLAN, {"accepted_plan": {"summary": "s", "branch": 3}}, "branch"),
        (PlanKind.AFTER, {"related_ticket": "R", "accepted_plan": {"summary": "s"}}, "only on"),
    ],
)
def test_plan_records_are_checked(
    tmp_path: Path, kind: PlanKind, options: dict[str, object], problem: str
) -> None:
    store = new_store(tmp_path)
    ticket, related = make(store), make(store)
    if options.get("related_ticket") == "R":
        options = {**options, "related_ticket": related}
    before = snapshot(store.root)

    with pytest.raises(InvalidRequest, match=problem):
        store.add_plan(ticket, kind, author=AUTHOR, **options)  # type: ignore[arg-type]

    assert snapshot(store.root) == before


def test_plan_records_are_notes_that_never_move_a_ticket(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store, State.QUEUED), make(store)
    events = store.get(ticket).events

    store.add_plan(ticket, PlanKind.BLOCKED_BY, author=AUTHOR, related_ticket=other)
    accepted = store.add_plan(
        ticket,
        PlanKind.ACCEPTED_PLAN,
        author=AUTHOR,
        accepted_plan={"summary": "Go.", "worktree": ".worktree/t", "role_plan": ["coder"]},
    )
    store.add_plan(other, PlanKind.WAITING_CAPACITY_NOTE, author=AUTHOR, note="Full.")

    detail = store.get(ticket)
    assert (detail.meta.state, detail.events, detail.blockers) == (State.QUEUED, events, ())
    assert detail.plans[-1] == accepted
    assert [p.ticket_id for p in store.plans()] == [ticket, ticket, other]


# events


@pytest.mark.parametrize("role", sorted(COMMENT_ROLES))
def test_comment_roles_write_their_kind(tmp_path: Path, role: EventKind) -> None:
    store = new_store(tmp_path)
    ticket = make(store)

    event = store.comment(ticket, "Said.", author="dave", role=role)

    assert store.get(ticket).events[-1] == event
    assert (event.kind, event.author, event.body) == (role.value, "dave", "Said.")
    assert event.heading == role.value.replace("_", " ").capitalize()


@pytest.mark.parametrize("role", [EventKind.REVIEW, EventKind.CLOSE, EventKind.STATE_CHANGED])
def test_other_roles_are_not_comments(tmp_path: Path, role: EventKind) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    before = snapshot(store.root)

    with pytest.raises(InvalidRequest, match="role"):
        store.comment(ticket, "Sneaky.", author=AUTHOR, role=role)

    assert snapshot(store.root) == before


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (ReviewStatus.APPROVE, "Review: approve"),
        (ReviewStatus.REQUEST_CHANGES, "Review: request changes"),
    ],
)
def test_reviews_carry_their_status(tmp_path: Path, status: ReviewStatus, heading: str) -> None:
    store = new_store(tmp_path)
    ticket = make(store)

    event = store.review(ticket, status, "Looked.", author="erin")

    assert store.get(ticket).events[-1] == event
    assert (event.attrs, event.heading, event.body) == (
        (("status", status.value),),
        heading,
        "Looked.",
    )


# reads


def test_listing_filters_counts_and_limits(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ids = [make(store, s, title=f"Task {s}") for s in (State.PLANNING, State.READY, State.READY)]
    make(store, title="Other thing")

    ready = store.listing(state=State.READY, limit=1)
    assert ([t.id for t in ready.items], ready.total) == ([ids[1]], 2)
    found = store.listing(query="TASK")
    assert ([t.id for t in found.items], found.total) == (ids, 3)
    assert store.listing(query=ids[2].lower()).total == 1
    assert store.listing(limit=0).items == ()
    assert store.listing(limit=0).total == 4


def test_a_missing_ticket_is_not_found(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    (store.root / encode_id(5)).mkdir(parents=True)

    for ticket in (encode_id(4), encode_id(5)):
        with pytest.raises(TicketNotFound) as missing:
            store.get(ticket)
        assert missing.value.details == {"ticket_id": ticket}


def test_the_board_has_a_column_per_state(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    first, second = make(store, State.READY), make(store, State.READY)
    blocker = make(store)
    store.add_relation(second, RelationKind.DEPENDS_ON, blocker, author=AUTHOR)

    board = store.board(limit=1)

    assert [(c.state, c.count) for c in board.columns] == [
        (State.PLANNING, 1),
        (State.READY, 2),
        (State.QUEUED, 0),
        (State.INPROGRESS, 0),
        (State.DONE, 0),
        (State.CLOSED, 0),
    ]
    assert [c.ticket.id for c in board.columns[1].cards] == [first]
    assert [len(c.blockers) for c in store.board().columns[1].cards] == [0, 1]


def test_init_keeps_the_lock_file_and_unfinished_tickets_out_of_git(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ignore = tmp_path / ".yoi" / ".gitignore"
    ignored = "tickets/.ticket-backend.lock\ntickets/.new-*/\n"

    store.init()
    store.init()
    assert ignore.read_text(encoding="utf-8") == ignored
    ignore.write_text("/state/", encoding="utf-8")
    store.init()
    assert ignore.read_text(encoding="utf-8") == "/state/\n" + ignored
    sample = copy_sample(tmp_path) / ".yoi"
    before = (sample / ".gitignore").read_bytes()
    TicketStore.for_workspace(sample.parent).init()
    TicketStore.for_workspace(sample.parent).init()
    assert (sample / ".gitignore").read_bytes() == before + b"tickets/.new-*/\n"


def test_only_real_staging_folders_are_swept_and_reported(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    outside = tmp_path / "outside"
    (outside / "artifacts").mkdir(parents=True)
    staging = store.root / ".new-00001KDYAK348-0123abcd"
    (staging / "artifacts").mkdir(parents=True)
    (store.root / ".new-00001KDYAK349-0123abcd").symlink_to(outside)
    (store.root / ".new-00001KDYAK34A-0123abcd").write_text("not a folder")
    (store.root / ".new-something-else").mkdir()

    found = [(f.severity, f.code, f.path) for f in diagnose(store.root).findings]
    store.comment(ticket, "A write.", author=AUTHOR)

    assert found == [("warning", "unfinished_ticket", staging.name)]
    assert sorted(p.name for p in store.root.iterdir() if p.name.startswith(".new-")) == [
        ".new-00001KDYAK349-0123abcd",
        ".new-00001KDYAK34A-0123abcd",
        ".new-something-else",
    ]
    assert (outside / "artifacts").is_dir()


# the lock


@contextmanager
def held_in_thread(root: Path) -> Iterator[Callable[[], None]]:
    from yoi.tickets.lock import store_lock

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store_lock(root, wait=5):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    try:
        yield release.set
    finally:
        release.set()
        holder.join(10)


@contextmanager
def held_in_process(root: Path) -> Iterator[Callable[[], None]]:
    """A plain ``flock`` from another process, as the original yoi or a script would take."""
    code = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    lock = str(root / ".ticket-backend.lock")
    with subprocess.Popen(
        [sys.executable, "-c", code, lock], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        assert child.stdout.readline() == "held\n"

        def release() -> None:
            assert child.stdin is not None
            if not child.stdin.closed:
                child.stdin.close()

        try:
            yield release
        finally:
            release()
            child.wait(10)


@pytest.mark.parametrize("holder", [held_in_thread, held_in_process])
def test_writers_wait_a_bounded_time_for_the_lock(
    tmp_path: Path, holder: Callable[[Path], AbstractContextManager[Callable[[], None]]]
) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    impatient = TicketStore(store.root, lock_wait=0.05)
    patient = TicketStore(store.root, lock_wait=30)
    outcome: list[object] = []
    started = threading.Event()

    def write() -> None:
        started.set()
        try:
            outcome.append(patient.comment(ticket, "Waited.", author="patient"))
        except YoiError as error:
            outcome.append(error)

    with holder(store.root) as release:
        before = snapshot(store.root)
        with pytest.raises(StoreLocked) as locked:
            impatient.comment(ticket, "Hurried.", author="impatient")
        with pytest.raises(StoreLocked):
            impatient.create("Hurried", "", author="impatient")
        assert snapshot(store.root) == before
        writer = threading.Thread(target=write)
        writer.start()
        assert started.wait(10)
        assert snapshot(store.root) == before
        release()
        writer.join(30)

    assert locked.value.code == "store_locked"
    assert locked.value.details == {"waited_seconds": 0.05}
    assert "for more than 0.05 s" in locked.value.message
    assert [type(o).__name__ for o in outcome] == ["ThreadEvent"]
    assert [e.author for e in store.get(ticket).events] == [AUTHOR, "patient"]
    assert os.path.exists(store.root / ".ticket-backend.lock")


@pytest.mark.parametrize("target", [State.READY, State.QUEUED])
def test_a_move_cut_short_after_its_event_is_finished_not_written_twice(
    tmp_path: Path, target: State
) -> None:
    """A writer killed between the thread's append and ``item.md``'s write (as ``os._exit``
    would) leaves the event without the state; the same move again finishes it."""
    store = new_store(tmp_path)
    ticket = store.create("Cut short", "Body.\n", author=AUTHOR).id
    if target is State.QUEUED:
        store.move(ticket, State.READY, author=AUTHOR)
    item = store.root / ticket / "item.md"
    before = item.read_text(encoding="utf-8")
    source = store.get(ticket).meta.state
    store.move(ticket, target, author=AUTHOR)
    item.write_text(before, encoding="utf-8")  # the item's write never happened
    assert store.get(ticket).meta.state is source
    moved = store.move(ticket, target, author=AUTHOR, expected=source)
    detail = store.get(ticket)
    changes = [e for e in detail.events if e.kind == EventKind.STATE_CHANGED]
    assert moved.state is target
    assert detail.meta.state is target
    assert [(e.attr("from"), e.attr("to")) for e in changes][-1] == (source.value, target.value)
    assert sum(e.attr("to") == target.value for e in changes) == 1
    assert diagnose(store.root).ok
