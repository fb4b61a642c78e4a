"""Hostile input: typed errors, never a crash, never a byte written outside ``.yoi/tickets/``.

Bad ids are refused in ``test_store``; here: oversized and malformed text,
YAML that tries to construct objects, files that are not UTF-8, and symbolic
links planted to lead writes outside the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.tickets.rig import AUTHOR, START_MS, Clock, make, new_store, snapshot

from yoi.errors import InvalidRequest, PayloadTooLarge, TicketUnreadable, YoiError
from yoi.tickets import PlanKind, RelationKind, ReviewStatus, State, TicketStore
from yoi.tickets.inputs import MAX_TEXT_BYTES

Write = Callable[[TicketStore, str, str], object]

HUGE = "x" * (MAX_TEXT_BYTES + 1)
WIDE = "é" * (MAX_TEXT_BYTES // 2 + 1)  # fewer characters than the limit, more bytes


def text_writes(text: str) -> dict[str, Write]:
    """Every way a caller hands the store a Markdown text, each given ``text``."""
    return {
        "create": lambda s, t, o: s.create("Title", text, author=AUTHOR),
        "comment": lambda s, t, o: s.comment(t, text, author=AUTHOR),
        "review": lambda s, t, o: s.review(t, ReviewStatus.APPROVE, text, author=AUTHOR),
        "summary": lambda s, t, o: s.move(t, State.READY, author=AUTHOR, summary=text),
        "resolution": lambda s, t, o: s.move(t, State.CLOSED, author=AUTHOR, resolution=text),
        "plan note": lambda s, t, o: s.add_plan(
            t, PlanKind.WAITING_CAPACITY_NOTE, author=AUTHOR, note=text
        ),
    }


def refused_without_a_trace(tmp_path: Path, write: Write, error: type[YoiError]) -> YoiError:
    """Run ``write`` against a fresh ticket; it must raise ``error`` and change no file."""
    store = new_store(tmp_path)
    ticket, other = make(store), make(store)
    before = snapshot(tmp_path)
    with pytest.raises(error) as refused:
        write(store, ticket, other)
    assert snapshot(tmp_path) == before
    return refused.value


@pytest.mark.parametrize("text", [HUGE, WIDE], ids=["ascii", "multibyte"])
@pytest.mark.parametrize("operation", text_writes(""))
def test_huge_texts_are_payload_too_large(tmp_path: Path, operation: str, text: str) -> None:
    error = refused_without_a_trace(tmp_path, text_writes(text)[operation], PayloadTooLarge)

    size = len(text.encode("utf-8"))
    assert error.code == "payload_too_large"
    assert f"is {size:,} bytes; a ticket text holds at most 262,144" in error.message
    assert error.details["limit"] == MAX_TEXT_BYTES


def test_a_text_of_exactly_the_limit_is_kept_whole(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    text = "y" * (MAX_TEXT_BYTES - 2) + "é"

    store.comment(ticket, text, author=AUTHOR)

    assert store.get(ticket).events[-1].body == text


@pytest.mark.parametrize("operation", text_writes(""))
def test_nul_characters_are_refused(tmp_path: Path, operation: str) -> None:
    write = text_writes("before\x00after")[operation]

    error = refused_without_a_trace(tmp_path, write, InvalidRequest)

    assert "must not contain NUL characters" in error.message


LINES: dict[str, tuple[Write, str]] = {
    "long title": (
        lambda s, t, o: s.create("t" * 301, "", author=AUTHOR),
        "title is 301 characters; at most 300",
    ),
    "two-line title": (
        lambda s, t, o: s.create("a\nb", "", author=AUTHOR),
        "title must be one line",
    ),
    "title with NUL": (
        lambda s, t, o: s.create("a\x00b", "", author=AUTHOR),
        "title must be one line",
    ),
    "blank title": (lambda s, t, o: s.create("  ", "", author=AUTHOR), "title must be a non-empty"),
    "long author": (
        lambda s, t, o: s.comment(t, "x", author="a" * 101),
        "author is 101 characters",
    ),
    "author with tab": (
        lambda s, t, o: s.comment(t, "x", author="a\tb"),
        "author must be one line",
    ),
    "long reason": (
        lambda s, t, o: s.move(t, State.READY, author=AUTHOR, reason="r" * 201),
        "reason is 201 characters; at most 200",
    ),
    "reason with newline": (
        lambda s, t, o: s.move(t, State.READY, author=AUTHOR, reason="a\n<!-- event: x"),
        "reason must be one line",
    ),
    "long relation note": (
        lambda s, t, o: s.add_relation(t, RelationKind.RELATED, o, author=AUTHOR, note="n" * 2001),
        "note is 2001 characters; at most 2000",
    ),
    "empty comment": (
        lambda s, t, o: s.comment(t, " \n ", author=AUTHOR),
        "body must not be empty",
    ),
    "close without resolution": (
        lambda s, t, o: s.move(t, State.CLOSED, author=AUTHOR),
        "resolution must be a string",
    ),
}


@pytest.mark.parametrize("case", LINES)
def test_bad_lines_are_invalid_requests(tmp_path: Path, case: str) -> None:
    write, message = LINES[case]

    error = refused_without_a_trace(tmp_path, write, InvalidRequest)

    assert error.code == "invalid_request"
    assert message in error.message


def test_a_title_of_the_limit_is_kept(tmp_path: Path) -> None:
    store = new_store(tmp_path)

    ticket = store.create("t" * 300, "", author="a" * 100).id

    assert store.get(ticket).meta.title == "t" * 300


# unreadable front matter and files


def ticket_with_item(tmp_path: Path, item: bytes) -> tuple[TicketStore, str]:
    store = new_store(tmp_path)
    ticket = make(store)
    (store.root / ticket / "item.md").write_bytes(item)
    return store, ticket


def assert_unreadable(store: TicketStore, ticket: str, problem: str) -> None:
    """Listed as invalid with ``problem``; every read and change of it is ``ticket_unreadable``."""
    listing = store.listing()
    assert ticket not in {t.id for t in listing.items}
    assert problem in listing.invalid[ticket]
    assert ticket in store.board().invalid
    before = snapshot(store.root.parent.parent)
    for attempt in (
        lambda: store.get(ticket),
        lambda: store.comment(ticket, "x", author=AUTHOR),
        lambda: store.move(ticket, State.READY, author=AUTHOR),
        lambda: store.move(ticket, State.CLOSED, author=AUTHOR, resolution="x"),
        lambda: store.add_plan(ticket, PlanKind.WAITING_CAPACITY_NOTE, author=AUTHOR, note="x"),
    ):
        with pytest.raises(TicketUnreadable) as refused:
            attempt()
        assert refused.value.code == "ticket_unreadable"
        assert refused.value.details == {"ticket_id": ticket}
    assert snapshot(store.root.parent.parent) == before


FRONT = "state: planning\ncreated_at: '2026-01-02T03:04:05Z'\n"


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        ("title: !!python/object/apply:os.system ['touch {marker}']\n", "not readable YAML"),
        ("title: !!python/object/new:os.system ['touch {marker}']\n", "not readable YAML"),
        ("title: !!python/name:os.system\n", "not readable YAML"),
        ("title: !include /etc/passwd\n", "not readable YAML"),
        ("title: !!binary dG91Y2g=\n", "title is not a string"),
        ("title: x\nrisk_flags: &a [b, *a]\n", "risk_flags is not a list of strings"),
        ("1: x\n", "not a mapping of field names"),
        ("title: " + "[" * 2000 + "]" * 2000 + "\n", "item.md"),
        ("title: 'unclosed\n", "not readable YAML"),
    ],
)
def test_hostile_yaml_makes_an_unreadable_ticket(tmp_path: Path, front: str, problem: str) -> None:
    marker = tmp_path / "executed"
    item = f"---\n{front.format(marker=marker)}{FRONT}---\n\nBody\n"
    store, ticket = ticket_with_item(tmp_path, item.encode())

    assert_unreadable(store, ticket, problem)
    assert not marker.exists()


def test_anchors_and_aliases_are_plain_yaml(tmp_path: Path) -> None:
    bomb = "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 10))
    item = f"---\ntitle: &t 'Anchored'\nassignee: *t\nl0: &l0 lol\n{bomb}{FRONT}---\n\n"
    store, ticket = ticket_with_item(tmp_path, item.encode())

    meta = store.get(ticket).meta

    assert (meta.title, meta.assignee) == ("Anchored", "Anchored")
    assert store.listing().invalid == {}


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (b"---\ntitle: caf\xe9\n" + FRONT.encode() + b"---\n", "/item.md is not UTF-8 (byte 14)"),
        (b"title: x\n" + FRONT.encode(), "does not start with a '---'"),
        (b"---\ntitle: x\n" + FRONT.encode(), "has no closing '---'"),
        (b"---\nstate: planning\ncreated_at: 2026-01-02\n---\n", "has no title"),
        (
            b"---\ntitle: x\nstate: waiting\ncreated_at: '2026-01-02T03:04:05Z'\n---\n",
            "'waiting' is not one of",
        ),
        (b"---\n" + b"x" * (4 * 1024 * 1024) + b"\n---\n", "the limit is 4,194,304"),
    ],
)
def test_broken_items_are_unreadable(tmp_path: Path, item: bytes, problem: str) -> None:
    store, ticket = ticket_with_item(tmp_path, item)

    assert_unreadable(store, ticket, problem)


def test_a_thread_that_is_not_utf8_is_unreadable_but_listed(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    thread = store.root / ticket / "thread.md"
    thread.write_bytes(thread.read_bytes() + b"\n\xff\xfe\n")

    with pytest.raises(TicketUnreadable, match=f"{ticket}/thread.md is not UTF-8"):
        store.get(ticket)
    assert [t.id for t in store.listing().items] == [ticket]


def test_a_stray_file_named_like_an_id_is_not_a_ticket(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store, State.QUEUED)
    (store.root / "00001ZZZZZZZZ").write_text("not a folder", encoding="utf-8")

    assert [t.id for t in store.listing().items] == [ticket]
    assert [t.id for t in store.ready().ready] == [ticket]


# symbolic links planted to lead writes outside


def outside_ticket(tmp_path: Path) -> tuple[TicketStore, str, Path]:
    """A store, and a link in it named like a ticket that leads to a real ticket elsewhere."""
    elsewhere = new_store(tmp_path / "elsewhere", Clock(START_MS + 60_000))
    target = make(elsewhere, State.READY)
    store = new_store(tmp_path / "ws")
    make(store)
    (store.root / target).symlink_to(elsewhere.root / target, target_is_directory=True)
    return store, target, tmp_path / "elsewhere"


def test_a_linked_ticket_folder_is_listed_invalid_and_never_written(tmp_path: Path) -> None:
    store, linked, outside = outside_ticket(tmp_path)
    own = store.listing().items[0].id
    before = snapshot(outside)

    assert store.listing().invalid == {
        linked: f"{linked} is a symbolic link; a ticket folder must be a real folder"
    }
    writes = [w for name, w in text_writes("x").items() if name != "create"]
    writes += [
        lambda s, t, o: s.move(t, State.QUEUED, author=AUTHOR),
        lambda s, t, o: s.get(t),
        lambda s, t, o: s.plans(ticket_id=t),
        lambda s, t, o: s.add_relation(t, RelationKind.BLOCKS, o, author=AUTHOR),
        lambda s, t, o: s.add_relation(o, RelationKind.DEPENDS_ON, t, author=AUTHOR),
        lambda s, t, o: s.add_plan(o, PlanKind.BEFORE, author=AUTHOR, related_ticket=t),
    ]
    for write in writes:
        with pytest.raises(TicketUnreadable, match="not a real folder"):
            write(store, linked, own)

    assert snapshot(outside) == before
    assert store.get(own).relations == ()
    assert store.get(own).plans == ()


def linked_file(
    tmp_path: Path, name: str, state: State = State.PLANNING
) -> tuple[TicketStore, str, Path]:
    """A ticket whose ``name`` is a link to a file (or a folder) outside the store."""
    store = new_store(tmp_path / "ws")
    ticket = make(store, state)
    outside = tmp_path / "outside"
    outside.mkdir()
    planted = store.root / ticket / name
    if name == "artifacts":
        (outside / "relations.json").write_text('{"version": 1, "relations": []}\n', "utf-8")
        (planted / ".gitkeep").unlink()
        planted.rmdir()
        planted.symlink_to(outside, target_is_directory=True)
        return store, ticket, outside
    target = outside / planted.name
    target.write_bytes(planted.read_bytes() if planted.exists() else b"outside\n")
    planted.unlink(missing_ok=True)
    planted.symlink_to(target)
    return store, ticket, outside


LINKED: dict[str, tuple[str, list[Write]]] = {
    "thread.md": (
        "store_error",
        [
            lambda s, t, o: s.comment(t, "x", author=AUTHOR),
            lambda s, t, o: s.review(t, ReviewStatus.APPROVE, "x", author=AUTHOR),
            lambda s, t, o: s.move(t, State.READY, author=AUTHOR),
        ],
    ),
    "item.md": (
        "ticket_unreadable",
        [
            lambda s, t, o: s.comment(t, "x", author=AUTHOR),
            lambda s, t, o: s.move(t, State.READY, author=AUTHOR),
            lambda s, t, o: s.add_plan(t, PlanKind.AFTER, author=AUTHOR, related_ticket=o),
        ],
    ),
    "artifacts": (
        "ticket_unreadable",
        [
            lambda s, t, o: s.add_relation(t, RelationKind.RELATED, o, author=AUTHOR),
            lambda s, t, o: s.add_plan(t, PlanKind.AFTER, author=AUTHOR, related_ticket=o),
        ],
    ),
    "artifacts/relations.json": (
        "ticket_unreadable",
        [lambda s, t, o: s.add_relation(t, RelationKind.RELATED, o, author=AUTHOR)],
    ),
    "artifacts/orchestration-plan.jsonl": (
        "ticket_unreadable",
        [lambda s, t, o: s.add_plan(t, PlanKind.AFTER, author=AUTHOR, related_ticket=o)],
    ),
}


@pytest.mark.parametrize("name", LINKED)
def test_writes_through_a_linked_file_or_folder_are_refused(tmp_path: Path, name: str) -> None:
    store, ticket, outside = linked_file(tmp_path, name)
    other = make(store)
    code, writes = LINKED[name]
    before, inside = snapshot(outside), snapshot(store.root)

    for write in writes:
        with pytest.raises(YoiError) as refused:
            write(store, ticket, other)
        assert refused.value.code == code

    assert snapshot(outside) == before
    assert snapshot(store.root) == inside
    if name != "artifacts":
        with pytest.raises(TicketUnreadable):
            store.get(ticket)


def test_a_linked_resolution_is_replaced_not_followed(tmp_path: Path) -> None:
    store, ticket, outside = linked_file(tmp_path, "resolution.md", State.DONE)
    before = snapshot(outside)

    store.move(ticket, State.CLOSED, author=AUTHOR, resolution="Inside.")

    assert snapshot(outside) == before
    resolution = store.root / ticket / "resolution.md"
    assert not resolution.is_symlink()
    assert resolution.read_text("utf-8") == "Inside.\n"


def test_a_refused_close_leaves_no_resolution(tmp_path: Path) -> None:
    store, ticket, _ = linked_file(tmp_path, "thread.md", State.DONE)

    with pytest.raises(YoiError):
        store.move(ticket, State.CLOSED, author=AUTHOR, resolution="Half.")

    assert store.listing().items[0].meta.state is State.DONE
    assert not os.path.lexists(store.root / ticket / "resolution.md")
