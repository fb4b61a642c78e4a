"""Word that the tickets changed, whoever changed them: this backend, the CLI, git, an editor.

A :class:`TicketFeed` keeps a revision number and raises it whenever the
store's files change. It learns of changes from its own inotify feed (the
store's index drains another one), checked every ``interval`` seconds, so a
change shows within about half a second at the cost of one ``read`` call.
Where inotify cannot say exactly what changed (no inotify at all, a missing
store root, a queue overflow) it compares a fingerprint of every ticket's
files (inode, size, modification time) instead, and raises the revision
only when that moved: a few ``stat`` calls per ticket.

Clients wait with :meth:`TicketFeed.wait` for the first revision after the
one they have; the answer names the tickets changed since, or ``None`` for
"reload everything".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from yoi.cancelling import cancel_and_wait
from yoi.tickets import TicketStore
from yoi.tickets.ids import is_ticket_id
from yoi.tickets.watch import InotifyFeed, open_feed

__all__ = ["TicketChange", "TicketFeed"]

_TICKET_FILES = (
    "item.md",
    "thread.md",
    "relations.json",
    "resolution.md",
    "artifacts/orchestration-plan.jsonl",
)
_HISTORY = 64
"""How many recent changes are kept to name the tickets a slow client missed."""


@dataclass(frozen=True, slots=True)
class TicketChange:
    revision: int
    ticket_ids: tuple[str, ...] | None
    """The tickets changed since the client's revision; None when it may be any."""


class TicketFeed:
    def __init__(
        self,
        store: TicketStore,
        *,
        interval: float = 0.5,
        fallback_interval: float = 2.0,
        watch: Callable[[Path], InotifyFeed | None] = open_feed,
    ) -> None:
        """``watch`` opens the inotify feed (None where it cannot); fingerprints stand in."""
        self._store = store
        self._open_watch = watch
        self._interval = interval
        self._fallback_interval = fallback_interval
        self._revision = 0
        self._history: deque[TicketChange] = deque(maxlen=_HISTORY)
        self._bumped = asyncio.Event()
        self._closed = asyncio.Event()
        self._inotify: InotifyFeed | None = None
        self._fingerprint: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def revision(self) -> int:
        return self._revision

    async def start(self) -> None:
        self._inotify = await anyio.to_thread.run_sync(self._open_watch, self._store.root)
        if self._inotify is not None:
            await anyio.to_thread.run_sync(self._inotify.drain)  # the first drain says "all"
        self._fingerprint = await anyio.to_thread.run_sync(self._fingerprint_now)
        self._task = asyncio.create_task(self._watch(), name="yoi-ticket-feed")

    async def aclose(self) -> None:
        self._closed.set()
        self._bumped.set()
        if self._task is not None:
            await cancel_and_wait(self._task)
        if self._inotify is not None:
            self._inotify.close()

    async def wait(self, after: int) -> TicketChange | None:
        """The first change past revision ``after``; None once the feed closes."""
        if self._closed.is_set():
            return None
        while self._revision <= after:
            if self._closed.is_set():
                return None
            await self._bumped.wait()
        return self._since(after)

    def _since(self, after: int) -> TicketChange:
        missed = [change for change in self._history if change.revision > after]
        if len(missed) != self._revision - after or any(c.ticket_ids is None for c in missed):
            return TicketChange(self._revision, None)
        ids = sorted({ticket_id for change in missed for ticket_id in change.ticket_ids or ()})
        return TicketChange(self._revision, tuple(ids))

    async def _watch(self) -> None:
        while not self._closed.is_set():
            pause = self._interval if self._inotify is not None else self._fallback_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._closed.wait()
            if self._closed.is_set():
                return
            with contextlib.suppress(OSError):
                changed = await anyio.to_thread.run_sync(self._changed)
                if changed != ():
                    self._bump(changed)

    def _changed(self) -> tuple[str, ...] | None:
        """The tickets changed since the last look: ``()`` for none, None for "any"."""
        drained = self._inotify.drain() if self._inotify is not None else None
        if drained is not None:
            if drained:
                self._fingerprint = None  # out of date: the next comparison reports a change
            return tuple(sorted(drained))
        now = self._fingerprint_now()
        if now == self._fingerprint:
            return ()
        self._fingerprint = now
        return None

    def _fingerprint_now(self) -> str:
        """A digest of every ticket's files: name, inode, size and modification time."""
        digest = hashlib.sha256()
        try:
            entries = sorted(os.scandir(self._store.root), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return digest.hexdigest()
        for entry in entries:
            if not is_ticket_id(entry.name):
                continue
            digest.update(f"{entry.name}\n".encode())
            for name in _TICKET_FILES:
                digest.update(_signature(os.path.join(entry.path, name)))
        return digest.hexdigest()

    def _bump(self, ticket_ids: tuple[str, ...] | None) -> None:
        self._revision += 1
        self._history.append(TicketChange(self._revision, ticket_ids))
        bumped, self._bumped = self._bumped, asyncio.Event()
        bumped.set()


def _signature(path: str) -> bytes:
    try:
        found = os.stat(path, follow_symlinks=False)
    except OSError:
        return b"-\n"
    return f"{found.st_ino}:{found.st_size}:{found.st_mtime_ns}\n".encode()
