"""The read cache: the files stay the truth, so edits by hand or by git show on the next read.

The persistent cache is only trusted for files older than the two-second
"racily clean" window. Files a test writes are always younger than that, and
``os.utime`` cannot age them (it sets ``ctime`` to now), so the tests that
need trusted entries read the sample, whose files are old, with the cache
file in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tests.tickets.rig import AUTHOR, SAMPLE, Clock, copy_sample, make, new_store

from yoi.errors import TicketNotFound
from yoi.tickets import RelationKind, State, TicketStore

TITLE = "Replace inferred panel Ticket state with explicit workflow state"
TITLED = "00001KTFEVH3R"


def write_in_place(path: Path, old: bytes, new: bytes, *, keep_mtime: bool = False) -> None:
    """Overwrite bytes inside the same inode, as some editors do; optionally restore the mtime."""
    stat = path.stat()
    data = path.read_bytes()
    assert old in data
    with open(path, "r+b") as file:
        file.write(data.replace(old, new, 1))
        file.truncate()
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize(
    ("old", "new", "state", "keep_mtime"),
    [
        (b"state: 'queued'", b"state: 'closed'", State.CLOSED, True),
        (b"state: 'queued'", b"state: 'inprogress'", State.INPROGRESS, False),
        (b"state: 'queued'", b'state: "planning"', State.PLANNING, True),
    ],
)
def test_a_hand_edit_is_seen_on_the_next_read(
    tmp_path: Path, old: bytes, new: bytes, state: State, keep_mtime: bool
) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store, State.QUEUED), make(store, State.QUEUED)
    assert [t.id for t in store.ready().ready] == [ticket, other]

    write_in_place(store.root / ticket / "item.md", old, new, keep_mtime=keep_mtime)

    assert [t.id for t in store.listing(state=state).items] == [ticket]
    assert [t.id for t in store.ready().ready] == [other]
    assert store.get(ticket).meta.state is state


def test_an_editor_style_replace_is_seen(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store, title="Before")
    assert store.listing().items[0].meta.title == "Before"
    item = store.root / ticket / "item.md"
    staged = item.with_name("item.md~")
    staged.write_bytes(item.read_bytes().replace(b"'Before'", b"'After'"))

    os.replace(staged, item)

    assert store.listing().items[0].meta.title == "After"


def test_a_relation_added_by_hand_is_seen_by_the_ready_view(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket, other = make(store, State.QUEUED), make(store)
    assert [t.id for t in store.ready().ready] == [ticket]
    relation = {"ticket_id": ticket, "kind": "depends_on", "target": other}
    document = json.dumps({"version": 1, "relations": [relation]})

    (store.root / ticket / "artifacts" / "relations.json").write_text(document, encoding="utf-8")

    view = store.ready()
    assert view.ready == ()
    assert [(w.ticket.id, [b.ticket_id for b in w.blockers]) for w in view.waiting] == [
        (ticket, [other])
    ]


def test_deleted_and_copied_folders_are_seen(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    gone, kept = make(store, State.QUEUED), make(store, State.QUEUED, title="Kept")
    assert store.listing().total == 2
    copy = "00001ZZZZZZZZ"

    shutil.rmtree(store.root / gone)
    shutil.copytree(store.root / kept, store.root / copy)

    listing = store.listing()
    assert [(t.id, t.meta.title) for t in listing.items] == [(kept, "Kept"), (copy, "Kept")]
    assert [t.id for t in store.ready().ready] == [kept, copy]
    with pytest.raises(TicketNotFound):
        store.get(gone)


def git(workspace: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workspace),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=workspace, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_git_checkout_is_seen_on_the_next_read(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    workspace.mkdir()
    git(workspace, "init", "-q")
    store = TicketStore.for_workspace(workspace, clock=Clock())
    store.init()
    started, closed = make(store, State.QUEUED), make(store, State.READY)
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "first")
    store.move(started, State.INPROGRESS, author=AUTHOR)
    store.move(closed, State.CLOSED, author=AUTHOR, resolution="No.")
    added = make(store, State.QUEUED, title="Added later")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "second")
    assert git(workspace, "status", "--porcelain") == ""
    assert [t.id for t in store.ready().ready] == [added]

    git(workspace, "checkout", "-q", "HEAD~1")

    assert [(t.id, t.meta.state) for t in store.listing().items] == [
        (started, State.QUEUED),
        (closed, State.READY),
    ]
    assert [t.id for t in store.ready().ready] == [started]
    git(workspace, "checkout", "-q", "-")
    assert [t.meta.state for t in store.listing().items] == [
        State.INPROGRESS,
        State.CLOSED,
        State.QUEUED,
    ]
    assert [t.id for t in store.ready().ready] == [added]


# the persistent cache


def sample_cache(tmp_path: Path) -> Path:
    """A cache file written by one store over the read-only sample (its files are old)."""
    item = os.stat(SAMPLE / "tickets" / TITLED / "item.md")
    age = time.time_ns() - max(item.st_mtime_ns, item.st_ctime_ns)
    assert age > 2_000_000_000, "the sample must be older than the two-second racy window"
    cache = tmp_path / "state" / "ticket-index.json"
    cache.parent.mkdir()
    TicketStore(SAMPLE / "tickets", cache_file=cache).ready()
    return cache


def signature(path: Path) -> str:
    """How the cache writes a file's signature: inode, size, mtime and ctime."""
    stat = os.stat(path)
    return f"[{stat.st_ino},{stat.st_size},{stat.st_mtime_ns},{stat.st_ctime_ns}]"


def test_the_cache_is_written_and_read_by_a_second_store(tmp_path: Path) -> None:
    cache = sample_cache(tmp_path)
    text = cache.read_text(encoding="utf-8")
    assert all(ticket in text for ticket in (p.name for p in (SAMPLE / "tickets").iterdir()))
    assert text.count(TITLE) == 1

    cache.write_text(text.replace(TITLE, "Read from the cache"), encoding="utf-8")
    second = TicketStore(SAMPLE / "tickets", cache_file=cache)

    titles = {t.id: t.meta.title for t in second.listing().items}
    assert titles[TITLED] == "Read from the cache"
    assert len(titles) == 23


def test_a_file_whose_signature_changed_is_read_again(tmp_path: Path) -> None:
    cache = sample_cache(tmp_path)
    item = SAMPLE / "tickets" / TITLED / "item.md"
    text = cache.read_text(encoding="utf-8")
    old = signature(item)
    ino, size, rest = old.split(",", 2)
    assert text.count(old) == 1
    stale = text.replace(TITLE, "Stale").replace(old, f"{ino},{int(size) + 1},{rest}")
    cache.write_text(stale, encoding="utf-8")

    titles = {
        t.id: t.meta.title
        for t in TicketStore(SAMPLE / "tickets", cache_file=cache).listing().items
    }

    assert titles[TITLED] == TITLE


def test_a_young_file_is_never_trusted_by_signature(tmp_path: Path) -> None:
    cache = sample_cache(tmp_path)
    workspace = copy_sample(tmp_path)
    root = workspace / ".yoi" / "tickets"
    item = root / TITLED / "item.md"
    write_in_place(item, b'state: "closed"', b'state: "queued"')
    # The cache claims this exact version of the file, with what the file said before the edit:
    # an edit within the same timestamp tick as the cache write.
    text = cache.read_text(encoding="utf-8")
    old = signature(SAMPLE / "tickets" / TITLED / "item.md")
    assert text.count(old) == 1
    cache.write_text(text.replace(old, signature(item)), encoding="utf-8")

    store = TicketStore(root, cache_file=cache)

    assert store.get(TITLED).meta.state is State.QUEUED
    assert [t.id for t in store.listing(state=State.QUEUED).items] == [TITLED]


def test_a_second_store_sees_a_hand_edit_made_after_the_first_wrote_the_cache(
    tmp_path: Path,
) -> None:
    workspace = copy_sample(tmp_path)
    (workspace / ".yoi" / "state").mkdir()
    first = TicketStore.for_workspace(workspace)
    assert first.listing(state=State.PLANNING).total == 1
    cache = workspace / ".yoi" / "state" / "ticket-index.json"
    assert json.loads(cache.read_text(encoding="utf-8"))

    write_in_place(first.root / "00001KVV01P5Z" / "item.md", b"'planning'", b"'ready'")

    second = TicketStore.for_workspace(workspace)
    assert second.listing(state=State.PLANNING).total == 0
    assert [t.id for t in second.listing(state=State.READY).items] == ["00001KVV01P5Z"]
    assert first.listing(state=State.PLANNING).total == 0


def test_no_cache_is_written_without_a_state_folder(tmp_path: Path) -> None:
    workspace = copy_sample(tmp_path)

    TicketStore.for_workspace(workspace).listing()

    assert not (workspace / ".yoi" / "state").exists()


@pytest.mark.parametrize(
    "corrupt",
    [
        "",
        "not json {",
        "[]",
        "{}",
        '{"version": 99, "items": {}, "relations": {}}',
        '{"version": 1, "items": [], "relations": {}}',
        '{"version": 1, "items": {"00001KTFEVH3R": [1]}, "relations": {}}',
        "bogus-state",
        "truncated",
    ],
)
def test_a_corrupt_cache_is_ignored_and_replaced(tmp_path: Path, corrupt: str) -> None:
    cache = sample_cache(tmp_path)
    good = cache.read_text(encoding="utf-8")
    if corrupt == "bogus-state":
        corrupt = good.replace('"closed"', '"bogus"', 1).replace(TITLE, "Corrupt")
    elif corrupt == "truncated":
        corrupt = good.replace(TITLE, "Corrupt")[: len(good) // 2]
    cache.write_text(corrupt, encoding="utf-8")

    store = TicketStore(SAMPLE / "tickets", cache_file=cache)

    listing = store.listing()
    assert (listing.total, listing.invalid) == (23, {})
    assert {t.id: t.meta.title for t in listing.items}[TITLED] == TITLE
    assert len(store.ready().ready) == 0
    assert json.loads(cache.read_text(encoding="utf-8")) == json.loads(good)


def test_relations_come_from_the_cache_too(tmp_path: Path) -> None:
    cache = sample_cache(tmp_path)
    note = (
        "TUI output observation depends on Runtime WebSocket event streams or their Backend proxy."
    )
    text = cache.read_text(encoding="utf-8")
    assert text.count(note) == 1
    cache.write_text(text.replace(note, "Read from the cache"), encoding="utf-8")
    second = TicketStore(SAMPLE / "tickets", cache_file=cache)

    relations = second.relations(ticket_id="00001KW04A8K6", kind=RelationKind.DEPENDS_ON)

    assert (relations[0].target, relations[0].note) == ("00001KVZKSTJT", "Read from the cache")
