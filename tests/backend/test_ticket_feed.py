"""The ticket feed: a revision that rises whenever the store's files change, whoever changed them.

A real :class:`~yoi.tickets.TicketStore` on ``tmp_path`` and the feed started
in the test's loop with a short interval. Nothing sleeps: each test waits on
:meth:`TicketFeed.wait` under a deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tests.isolation import isolated_env

from yoi.backend.ticket_feed import TicketChange, TicketFeed
from yoi.tickets import TicketStore

DEADLINE = 10.0
INTERVAL = 0.01
AUTHOR = "feed-test"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


@pytest.fixture
def store(workspace: Path) -> TicketStore:
    opened = TicketStore.for_workspace(workspace)
    opened.init()
    return opened


@asynccontextmanager
async def running(store: TicketStore) -> AsyncIterator[TicketFeed]:
    feed = TicketFeed(store, interval=INTERVAL, fallback_interval=INTERVAL)
    await feed.start()
    try:
        yield feed
    finally:
        await feed.aclose()


async def next_change(feed: TicketFeed, after: int) -> TicketChange:
    async with asyncio.timeout(DEADLINE):
        change = await feed.wait(after)
    assert change is not None
    assert change.revision > after
    return change


async def until_named(feed: TicketFeed, after: int, ticket_id: str) -> TicketChange:
    """Changes past ``after`` until one names ``ticket_id``; each names nothing else."""
    while True:
        change = await next_change(feed, after)
        assert change.ticket_ids is not None
        assert set(change.ticket_ids) <= {ticket_id}, change
        if ticket_id in change.ticket_ids:
            return change
        after = change.revision


async def create(store: TicketStore, title: str) -> str:
    created = await asyncio.to_thread(store.create, title, "", author=AUTHOR)
    return created.id


async def comment(store: TicketStore, ticket_id: str, body: str) -> None:
    await asyncio.to_thread(store.comment, ticket_id, body, author=AUTHOR)


async def test_a_change_through_the_store_raises_the_revision_and_names_the_ticket(
    store: TicketStore,
) -> None:
    async with running(store) as feed:
        start = feed.revision
        ticket_id = await create(store, "Seen")
        created = await until_named(feed, start, ticket_id)
        await comment(store, ticket_id, "a comment")
        commented = await until_named(feed, created.revision, ticket_id)
        assert commented.revision > created.revision


async def test_a_change_by_another_process_or_by_hand_is_seen(
    store: TicketStore, workspace: Path
) -> None:
    first = await create(store, "Commented from the CLI")
    second = await create(store, "Edited by hand")
    third = await create(store, "Removed by a checkout")
    async with running(store) as feed:
        before = feed.revision
        cli = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "yoi", "ticket", "--workspace", str(workspace)),
            *("--author", "cli", "comment", first, "--message", "from another process"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=isolated_env(),
            cwd=workspace,
        )
        _, errors = await cli.communicate()
        assert cli.returncode == 0, errors.decode()
        seen = await until_named(feed, before, first)

        # As git writes a file on checkout: a new file renamed over the old one.
        thread = store.root / second / "thread.md"
        replacement = thread.with_name(".thread.md.tmp")
        replacement.write_text(thread.read_text(encoding="utf-8") + "\nEdited.\n", "utf-8")
        os.replace(replacement, thread)
        seen = await until_named(feed, seen.revision, second)

        # And a plain write in place, as an editor saves.
        with thread.open("a", encoding="utf-8") as handle:
            handle.write("\nEdited again.\n")
        seen = await until_named(feed, seen.revision, second)

        shutil.rmtree(store.root / third)
        await until_named(feed, seen.revision, third)
    assert "from another process" in store.get(first).events[-1].body


async def test_a_waiter_that_fell_behind_gets_every_ticket_changed_since(
    store: TicketStore,
) -> None:
    async with running(store) as feed:
        behind = feed.revision
        one = await create(store, "One")
        change = await until_named(feed, behind, one)
        two = await create(store, "Two")
        change = await until_named(feed, change.revision, two)
        await comment(store, one, "again")
        change = await until_named(feed, change.revision, one)
        caught_up = await next_change(feed, behind)
    # A write seen in two looks may have raised the revision once more since: never less.
    assert caught_up.revision >= change.revision >= behind + 3
    assert caught_up.ticket_ids == tuple(sorted({one, two}))


async def test_a_waiter_behind_more_than_the_history_is_told_to_reload_everything(
    store: TicketStore,
) -> None:
    ticket_id = await create(store, "Busy")
    async with running(store) as feed:
        behind = feed.revision
        change = TicketChange(behind, None)
        for count in range(70):
            await comment(store, ticket_id, f"comment {count}")
            change = await until_named(feed, change.revision, ticket_id)
        assert change.revision - behind >= 70
        overflowed = await next_change(feed, behind)
        recent = await next_change(feed, change.revision - 1)
    assert overflowed.revision >= change.revision
    assert overflowed.ticket_ids is None
    assert recent.ticket_ids == (ticket_id,)


async def test_closing_the_feed_wakes_every_waiter_with_none(store: TicketStore) -> None:
    feed = TicketFeed(store, interval=INTERVAL)
    await feed.start()
    revision = feed.revision
    waiters = [asyncio.create_task(feed.wait(revision)) for _ in range(3)]
    await asyncio.sleep(0)  # a scheduling point, no time: each waiter now blocks on the feed
    assert not any(waiter.done() for waiter in waiters)
    await feed.aclose()
    async with asyncio.timeout(DEADLINE):
        assert await asyncio.gather(*waiters) == [None, None, None]
        assert await feed.wait(revision) is None
    assert feed.revision == revision


async def test_where_inotify_cannot_say_what_changed_the_fingerprint_decides(
    tmp_path: Path, workspace: Path
) -> None:
    """A store root missing at start: inotify watches nothing, so each look compares
    fingerprints. The root then appears whole (as a checkout or a restore brings it),
    and the feed reports a change to any ticket."""
    store = TicketStore.for_workspace(workspace)
    assert not store.root.exists()
    elsewhere = TicketStore(tmp_path / "elsewhere")
    elsewhere.init()
    ticket_id = elsewhere.create("Restored", "", author=AUTHOR).id
    async with running(store) as feed:
        start = feed.revision
        store.root.parent.mkdir(parents=True)
        os.rename(elsewhere.root, store.root)
        restored = await next_change(feed, start)
        assert restored == TicketChange(start + 1, None)
        # Once the root is there, inotify names the tickets again.
        await comment(store, ticket_id, "after the restore")
        await until_named(feed, restored.revision, ticket_id)
    assert store.get(ticket_id).meta.title == "Restored"


async def test_without_inotify_a_fingerprint_of_the_ticket_files_tells(
    store: TicketStore,
) -> None:
    feed = TicketFeed(store, interval=INTERVAL, fallback_interval=INTERVAL, watch=lambda _: None)
    await feed.start()
    try:
        start = feed.revision
        ticket_id = await create(store, "Seen without inotify")
        change = await next_change(feed, start)
        assert change == TicketChange(start + 1, None)
        await comment(store, ticket_id, "a comment updates the ticket's update time")
        assert (await next_change(feed, change.revision)).ticket_ids is None
    finally:
        await feed.aclose()
    async with asyncio.timeout(DEADLINE):
        assert await feed.wait(0) is None
