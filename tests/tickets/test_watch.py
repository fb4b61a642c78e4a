"""The inotify change feed: every completed change, by any process, is seen on the next read.

Each test changes a real store behind the index's back (or through it) and
reads once, checking what the feed reported and what the index now says;
then reads again with nothing changed and checks that the feed drained an
empty set, so a quiet read costs no file system calls.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.tickets.rig import SAMPLE

from yoi.tickets import RelationKind, State, TicketStore
from yoi.tickets.index import Catalog, ChangeFeed
from yoi.tickets.lifecycle import Graph
from yoi.tickets.watch import (
    IN_CREATE,
    IN_ISDIR,
    IN_MOVED_FROM,
    IN_Q_OVERFLOW,
    InotifyEvent,
    InotifyFeed,
    open_feed,
    parse_events,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux only")

FIXTURE = SAMPLE / "tickets"
FIXTURE_TICKET = "00001KSKBP9YG"
AUTHOR = "tester"


@dataclass
class Recording:
    """A feed that remembers what each drain answered: the seam the index drains."""

    feed: ChangeFeed
    drained: list[set[str] | None] = field(default_factory=list)

    def drain(self) -> set[str] | None:
        result = self.feed.drain()
        self.drained.append(result)
        return result


@dataclass
class Watched:
    store: TicketStore
    inotify: InotifyFeed
    feed: Recording
    ids: list[str]

    def __enter__(self) -> Watched:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.inotify.close()

    @property
    def root(self) -> Path:
        return self.store.root

    def read(self) -> tuple[Catalog, set[str] | None]:
        """One read through the index, and what the feed told it."""
        catalog = self.store.index.catalog()
        return catalog, self.feed.drained[-1]

    def quiet(self) -> Catalog:
        """Read twice more with nothing changed: the feed reports nothing, the catalog holds."""
        before, _ = self.read()
        after, drained = self.read()
        assert drained == set()
        assert after == before
        return after


def started(store: TicketStore) -> Watched:
    feed = open_feed(store.root)
    assert feed is not None
    recording = Recording(feed)
    store.index.attach(recording)
    return Watched(store, feed, recording, [])


def title_of(catalog: Catalog, ticket_id: str) -> str:
    return catalog.metas[ticket_id].title


def blockers(catalog: Catalog, ticket_id: str) -> list[str]:
    graph = Graph(catalog.relations, catalog.states())
    return [blocker.ticket_id for blocker in graph.blockers(ticket_id)]


def edit_title(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert f"title: '{old}'" in text
    path.write_text(text.replace(f"title: '{old}'", f"title: '{new}'"), encoding="utf-8")


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    """A store with tickets alpha and beta, made before the feed opened, read once."""
    store = TicketStore(tmp_path / "tickets")
    store.init()
    ids = [store.create(title, "body", author=AUTHOR).id for title in ("alpha", "beta")]
    w = started(store)
    w.ids = ids
    catalog, drained = w.read()
    assert drained is None
    assert set(catalog.metas) == set(ids)
    with w:
        yield w


@pytest.fixture
def fixture_ticket(tmp_path: Path) -> Path:
    """A writable copy of one real ticket, outside the store."""
    copy = tmp_path / "fixture" / FIXTURE_TICKET
    shutil.copytree(FIXTURE / FIXTURE_TICKET, copy)
    for folder, _, names in os.walk(copy):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(Path(folder) / name, 0o644)
    return copy


def test_a_quiet_read_after_the_first_drains_nothing(watched: Watched) -> None:
    catalog = watched.quiet()
    assert watched.feed.drained[0] is None
    assert [title_of(catalog, i) for i in watched.ids] == ["alpha", "beta"]


def test_an_in_place_edit_of_item_md_is_seen(watched: Watched) -> None:
    alpha = watched.ids[0]
    path = watched.root / alpha / "item.md"
    inode = path.stat().st_ino
    edit_title(path, "alpha", "edited by hand")
    assert path.stat().st_ino == inode
    catalog, drained = watched.read()
    assert drained == {alpha}
    assert title_of(catalog, alpha) == "edited by hand"
    watched.quiet()


def test_a_rename_replace_of_item_md_is_seen(watched: Watched) -> None:
    beta = watched.ids[1]
    path = watched.root / beta / "item.md"
    temporary = path.with_name("item.md.swp")
    temporary.write_text(path.read_text(encoding="utf-8").replace("'beta'", "'renamed'"))
    os.replace(temporary, path)
    catalog, drained = watched.read()
    assert drained == {beta}
    assert title_of(catalog, beta) == "renamed"
    watched.quiet()


def test_relations_and_states_written_by_the_store_change_the_blockers(watched: Watched) -> None:
    alpha, beta = watched.ids
    watched.store.add_relation(alpha, RelationKind.DEPENDS_ON, beta, author=AUTHOR)
    catalog, drained = watched.read()
    assert drained == {alpha}
    assert blockers(catalog, alpha) == [beta]
    for state in (State.READY, State.QUEUED, State.INPROGRESS, State.DONE):
        watched.store.move(beta, state, author=AUTHOR)
    catalog, drained = watched.read()
    assert drained == {beta}
    assert catalog.metas[beta].state is State.DONE
    assert blockers(catalog, alpha) == []
    watched.quiet()


def test_a_ticket_created_by_the_store_is_seen_and_then_watched(watched: Watched) -> None:
    new = watched.store.create("gamma", "body", author=AUTHOR).id
    catalog, drained = watched.read()
    assert drained == {new}  # the staging folder and the lock file are not tickets
    assert title_of(catalog, new) == "gamma"
    watched.store.add_relation(new, RelationKind.BLOCKS, watched.ids[0], author=AUTHOR)
    catalog, drained = watched.read()
    assert drained == {new}
    assert blockers(catalog, watched.ids[0]) == [new]
    watched.quiet()


def test_a_ticket_copied_in_is_seen_and_its_artifacts_watched(
    watched: Watched, fixture_ticket: Path
) -> None:
    shutil.copytree(fixture_ticket, watched.root / FIXTURE_TICKET)
    catalog, drained = watched.read()
    assert drained == {FIXTURE_TICKET}
    assert title_of(catalog, FIXTURE_TICKET) == "E2E テストハーネス"
    assert len(catalog.relations[FIXTURE_TICKET]) == 2
    relations = watched.root / FIXTURE_TICKET / "artifacts" / "relations.json"
    document = json.loads(relations.read_text(encoding="utf-8"))
    document["relations"] = [
        {"ticket_id": FIXTURE_TICKET, "kind": "depends_on", "target": watched.ids[0]}
    ]
    relations.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    catalog, drained = watched.read()
    assert drained == {FIXTURE_TICKET}
    assert blockers(catalog, FIXTURE_TICKET) == [watched.ids[0]]
    watched.quiet()


def test_an_artifacts_folder_made_again_is_watched_again(watched: Watched) -> None:
    alpha, beta = watched.ids
    artifacts = watched.root / alpha / "artifacts"
    shutil.rmtree(artifacts)
    _, drained = watched.read()
    assert drained == {alpha}
    artifacts.mkdir()
    relation = {"ticket_id": alpha, "kind": "depends_on", "target": beta}
    (artifacts / "relations.json").write_text(json.dumps({"version": 1, "relations": [relation]}))
    catalog, drained = watched.read()
    assert drained == {alpha}
    assert blockers(catalog, alpha) == [beta]
    (artifacts / "relations.json").write_text(json.dumps({"version": 1, "relations": []}))
    catalog, drained = watched.read()
    assert drained == {alpha}
    assert blockers(catalog, alpha) == []
    watched.quiet()


def test_a_deleted_ticket_folder_is_seen(watched: Watched) -> None:
    alpha, beta = watched.ids
    shutil.rmtree(watched.root / beta)
    catalog, drained = watched.read()
    assert drained == {beta}
    assert set(catalog.metas) == {alpha}
    watched.quiet()


def test_a_ticket_folder_renamed_to_another_id_is_seen(watched: Watched) -> None:
    alpha, beta = watched.ids
    moved = "00001M0000000"
    os.rename(watched.root / beta, watched.root / moved)
    catalog, drained = watched.read()
    assert drained == {beta, moved}
    assert set(catalog.metas) == {alpha, moved}
    edit_title(watched.root / moved / "item.md", "beta", "moved")
    catalog, drained = watched.read()
    assert drained == {moved}
    assert title_of(catalog, moved) == "moved"
    watched.quiet()


def test_the_root_renamed_away_and_back_is_watched_again(watched: Watched) -> None:
    alpha = watched.ids[0]
    away = watched.root.with_name("tickets-away")
    os.rename(watched.root, away)
    catalog, drained = watched.read()
    assert drained is None
    assert catalog.metas == {}
    _, drained = watched.read()
    assert drained is None  # while the root is missing, every read rescans
    os.rename(away, watched.root)
    catalog, drained = watched.read()
    assert drained is None
    assert set(catalog.metas) == set(watched.ids)
    watched.quiet()
    edit_title(watched.root / alpha / "item.md", "alpha", "back")
    catalog, drained = watched.read()
    assert drained == {alpha}
    assert title_of(catalog, alpha) == "back"
    watched.quiet()


def test_the_root_renamed_away_and_back_between_two_reads(watched: Watched) -> None:
    alpha = watched.ids[0]
    away = watched.root.with_name("tickets-away")
    os.rename(watched.root, away)
    edit_title(away / alpha / "item.md", "alpha", "edited while away")
    os.rename(away, watched.root)
    catalog, drained = watched.read()
    assert drained is None
    assert title_of(catalog, alpha) == "edited while away"
    watched.quiet()


def test_a_root_replaced_by_renaming_its_parent_is_seen(tmp_path: Path) -> None:
    store = TicketStore(tmp_path / "workspace" / "tickets")
    alpha, beta = (store.create(title, "body", author=AUTHOR).id for title in ("alpha", "beta"))
    with started(store) as w:
        w.read()
        w.quiet()
        old = tmp_path / "workspace-old"
        os.rename(tmp_path / "workspace", old)
        shutil.copytree(old, tmp_path / "workspace")
        shutil.rmtree(store.root / beta)
        catalog, drained = w.read()
        assert drained is None  # no event reaches the old root's watch; its inode changed
        assert set(catalog.metas) == {alpha}
        w.quiet()
        edit_title(old / "tickets" / alpha / "item.md", "alpha", "in the old root")
        assert title_of(w.quiet(), alpha) == "alpha"
        edit_title(store.root / alpha / "item.md", "alpha", "in the new root")
        catalog, drained = w.read()
        assert drained == {alpha}
        assert title_of(catalog, alpha) == "in the new root"
        w.quiet()


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    done = subprocess.run([*command, *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_a_git_checkout_of_an_older_commit_is_seen(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    store = TicketStore(repo / ".yoi" / "tickets")
    store.init()
    alpha = store.create("alpha", "body", author=AUTHOR).id
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "alpha")
    older = git(repo, "rev-parse", "HEAD")
    store.move(alpha, State.READY, author=AUTHOR)
    beta = store.create("beta", "body", author=AUTHOR).id
    store.add_relation(beta, RelationKind.DEPENDS_ON, alpha, author=AUTHOR)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "beta")
    with started(store) as w:
        w.read()
        assert blockers(w.quiet(), beta) == [alpha]
        git(repo, "checkout", "-q", older)
        catalog, drained = w.read()
        assert drained == {alpha, beta}
        assert set(catalog.metas) == {alpha}
        assert catalog.metas[alpha].state is State.PLANNING
        w.quiet()
        git(repo, "checkout", "-q", "main")
        catalog, drained = w.read()
        assert drained == {alpha, beta}
        assert catalog.metas[alpha].state is State.READY
        assert blockers(catalog, beta) == [alpha]
        w.quiet()


def test_an_overflowing_queue_rescans_and_watches_again(watched: Watched) -> None:
    alpha = watched.ids[0]
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"max_queued_events is {limit}; flooding it would be slow")
    folder = watched.root / alpha
    flood = [os.open(folder / f".flood-{n}", os.O_WRONLY | os.O_CREAT, 0o644) for n in (1, 2)]
    for number in range(limit + 100):  # alternating files: the kernel merges no two events
        os.write(flood[number % 2], b"x")
    for descriptor in flood:
        os.close(descriptor)
    catalog, drained = watched.read()
    assert drained is None
    assert set(catalog.metas) == set(watched.ids)
    watched.quiet()
    edit_title(folder / "item.md", "alpha", "after the flood")
    catalog, drained = watched.read()
    assert drained == {alpha}
    assert title_of(catalog, alpha) == "after the flood"
    watched.quiet()


def test_a_feed_opened_before_its_root_exists_starts_watching_once_it_does(
    tmp_path: Path,
) -> None:
    store = TicketStore(tmp_path / "later" / "tickets")
    with started(store) as w:
        catalog, drained = w.read()
        assert (catalog.metas, drained) == ({}, None)
        catalog, drained = w.read()
        assert (catalog.metas, drained) == ({}, None)  # no root: every read rescans
        new = store.create("first", "body", author=AUTHOR).id
        catalog, drained = w.read()
        assert drained is None
        assert title_of(catalog, new) == "first"
        w.quiet()
        edit_title(store.root / new / "item.md", "first", "watched")
        catalog, drained = w.read()
        assert drained == {new}
        assert title_of(catalog, new) == "watched"
        w.quiet()


def inotify_descriptors() -> int:
    links = (os.readlink(entry) for entry in Path("/proc/self/fd").iterdir() if entry.exists())
    return sum(1 for link in links if link == "anon_inode:inotify")


def test_close_releases_the_descriptor_and_drains_nothing_more(watched: Watched) -> None:
    before = inotify_descriptors()
    with InotifyFeed(watched.root) as feed:
        assert inotify_descriptors() == before + 1
        assert feed.drain() is None
        assert feed.drain() == set()
    assert inotify_descriptors() == before
    assert feed.drain() is None


def test_parse_events_reads_the_kernel_layout() -> None:
    def event(wd: int, mask: int, cookie: int, name: bytes) -> bytes:
        padded = name + b"\0" * (16 - len(name) % 16) if name else b""
        return struct.pack("=iIII", wd, mask, cookie, len(padded)) + padded

    data = b"".join(
        [
            event(1, IN_CREATE | IN_ISDIR, 0, b"00001KSKBP9YG"),
            event(2, IN_MOVED_FROM, 77, b"item.md"),
            event(3, IN_CREATE, 0, b"caf\xe9"),
            event(-1, IN_Q_OVERFLOW, 0, b""),
        ]
    )
    assert parse_events(data) == [
        InotifyEvent(1, IN_CREATE | IN_ISDIR, 0, "00001KSKBP9YG"),
        InotifyEvent(2, IN_MOVED_FROM, 77, "item.md"),
        InotifyEvent(3, IN_CREATE, 0, os.fsdecode(b"caf\xe9")),
        InotifyEvent(-1, IN_Q_OVERFLOW, 0, ""),
    ]
    assert parse_events(b"") == []
    with pytest.raises(ValueError, match="header is cut short"):
        parse_events(data[:-4])
    with pytest.raises(ValueError, match="name is cut short"):
        parse_events(event(1, IN_CREATE, 0, b"item.md")[:-1])


def run_child(script: str, root: Path) -> object:
    """Run ``script`` in a fresh interpreter (it changes process-wide limits); its JSON answer."""
    code = textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_open_feed_is_none_when_no_inotify_instance_can_be_made(watched: Watched) -> None:
    answer = run_child(
        """
        import json, os, resource, sys
        from pathlib import Path
        from yoi.tickets.watch import open_feed
        root = Path(sys.argv[1])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowest = os.open(os.devnull, os.O_RDONLY)
        os.close(lowest)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest, hard))
        starved = open_feed(root)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        print(json.dumps([starved is None, open_feed(root) is None]))
        """,
        watched.root,
    )
    assert answer == [True, False]


WATCH_LIMIT = """
    import ctypes, json, os, sys
    from pathlib import Path
    from yoi.tickets.store import TicketStore
    from yoi.tickets.watch import open_feed

    def limit(watches):
        Path("/proc/sys/user/max_inotify_watches").write_text(str(watches))

    root = Path(sys.argv[1])
    uid, gid = os.getuid(), os.getgid()
    try:  # a user namespace of our own carries its own inotify watch limit
        if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
        limit(5)
    except OSError as error:
        print(json.dumps(f"unsupported: {error}"))
        sys.exit(0)
    store = TicketStore(root)
    feed = open_feed(root)  # the root and two tickets with artifacts: five watches
    assert feed is not None
    store.index.attach(feed)
    drained = [feed.drain(), feed.drain()]
    new = store.create("gamma", "body", author="t").id  # two more watches: refused
    drained.append(feed.drain())
    titles = {meta.title for meta in store.index.catalog().metas.values()}
    drained.append(feed.drain())
    feed.close()
    limit(4)
    print(json.dumps({
        "drained": [None if d is None else sorted(d) for d in drained],
        "titles": sorted(titles),
        "at_start": open_feed(root) is None,
    }))
"""


def test_a_feed_refused_a_watch_answers_none_from_then_on(watched: Watched) -> None:
    answer = run_child(WATCH_LIMIT, watched.root)
    if isinstance(answer, str):
        pytest.skip(f"cannot set a watch limit here ({answer})")
    assert answer == {
        "drained": [None, [], None, None],
        "titles": ["alpha", "beta", "gamma"],
        "at_start": True,
    }


def test_a_first_listing_without_relations_still_leaves_relations_current(
    tmp_path: Path,
) -> None:
    store = TicketStore(tmp_path / "tickets")
    alpha, beta = (store.create(title, "body", author=AUTHOR).id for title in ("alpha", "beta"))
    store.add_relation(alpha, RelationKind.DEPENDS_ON, beta, author=AUTHOR)
    with started(store) as w:
        listing = store.listing()
        assert listing.total == 2
        catalog, drained = w.read()
        assert drained == set()
        assert blockers(catalog, alpha) == [beta]


def test_a_ticket_folder_that_is_a_link_is_reported_but_never_watched(
    watched: Watched, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = watched.root / "00001M0000000"
    link.symlink_to(outside, target_is_directory=True)
    catalog, drained = watched.read()
    assert drained == {link.name}
    assert link.name in catalog.invalid
    (outside / "item.md").write_text("---\ntitle: 'outside'\n---\n")
    watched.quiet()
    assert stat.S_ISLNK(link.lstat().st_mode)
