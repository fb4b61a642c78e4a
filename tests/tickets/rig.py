"""What the ticket library tests share: the real sample workspace, a fixed clock, snapshots.

The sample (``tests/fixtures/upstream-yoi/.yoi``, a copy of the shared fixture) is
read-only: tests that write copy it into ``tmp_path`` first.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from yoi.tickets import State, TicketConfig, TicketStore
from yoi.tickets.ids import timestamp

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "upstream-yoi" / ".yoi"
"""The original yoi's own ``.yoi`` folder: 23 tickets, Japanese, never written to."""

SAMPLE_IDS = sorted(p.name for p in (SAMPLE / "tickets").iterdir() if p.is_dir())
AUTHOR = "tester"
START_MS = 1_767_323_045_000
"""2026-01-02T03:04:05Z, the moment a :class:`Clock` starts at."""

# The path a test walks to bring a fresh ticket to each state.
ROUTE: dict[State, tuple[State, ...]] = {
    State.PLANNING: (),
    State.READY: (State.READY,),
    State.QUEUED: (State.READY, State.QUEUED),
    State.INPROGRESS: (State.READY, State.QUEUED, State.INPROGRESS),
    State.DONE: (State.READY, State.QUEUED, State.INPROGRESS, State.DONE),
    State.CLOSED: (State.CLOSED,),
}


@dataclass
class Clock:
    """Milliseconds that move only when a test says so, for the store's ``clock=``."""

    now: int = START_MS

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> str:
        """Move on and return the new moment as ticket files write it."""
        self.now += int(seconds * 1000)
        return self.stamp

    @property
    def stamp(self) -> str:
        return timestamp(self.now)


def copy_sample(tmp_path: Path) -> Path:
    """A writable copy of the sample workspace; returns the workspace root (holding ``.yoi``)."""
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE, workspace / ".yoi")
    for folder, _, files in os.walk(workspace):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder) / name, 0o644)
    return workspace


def new_store(
    tmp_path: Path,
    clock: Clock | None = None,
    *,
    config: TicketConfig | None = None,
    lock_wait: float = 10.0,
) -> TicketStore:
    """An empty store under ``tmp_path/.yoi/tickets``."""
    root = tmp_path / ".yoi" / "tickets"
    return TicketStore(root, config=config, clock=clock or Clock(), lock_wait=lock_wait)


def make(store: TicketStore, state: State = State.PLANNING, title: str = "A ticket") -> str:
    """A new ticket brought to ``state`` by allowed moves; its id."""
    ticket = store.create(title, "Body.\n", author=AUTHOR).id
    bring(store, ticket, state)
    return ticket


def bring(store: TicketStore, ticket: str, state: State) -> None:
    """Move a planning ticket along :data:`ROUTE` to ``state``."""
    for target in ROUTE[state]:
        resolution = "Resolved." if target is State.CLOSED else None
        store.move(ticket, target, author=AUTHOR, resolution=resolution)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root``: file bytes, a link's target, or ``"dir"``."""
    found: dict[str, bytes | str] = {}
    if not root.exists():
        return found
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[key] = "-> " + os.readlink(path)
            elif stat.S_ISDIR(mode):
                found[key] = "dir"
            else:
                found[key] = path.read_bytes()
    return found


def changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    """The (old, new) pairs of lines that differ between two files of the same line count."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new), "a line was inserted or removed"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]
