"""One change at a time to a repository's list of worktrees, across processes.

``git worktree add`` makes the new worktree's entry under ``<common>/worktrees/`` and only
then marks it as being set up, so a ``git worktree prune`` that runs in between (another
workdir's deletion, the orchestrator's sweep, the local runtime beside the backend) finds an
entry without its ``gitdir`` file and deletes it, and the add fails. Every add and prune of
the workdirs and of the orchestrator's integration therefore takes this lock: an ``flock`` on
``<common>/yoi-worktrees.lock``, which holds between processes and between two opens in one.
It is held only for git's bookkeeping: the files are checked out after it is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

from yoi.errors import WorkdirFailed

__all__ = ["LOCK_NAME", "worktree_admin"]

LOCK_NAME = "yoi-worktrees.lock"
_POLL = 0.005
"""Seconds between tries while another holds the lock (it is held for one short git call)."""


@contextlib.asynccontextmanager
async def worktree_admin(common: Path, *, within: float) -> AsyncIterator[None]:
    """Hold the worktree lock of the repository whose common git directory is ``common``;
    ``workdir_failed`` if it is not free within ``within`` seconds."""
    try:
        fd = os.open(common / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise WorkdirFailed(f"cannot open the worktree lock: {error.strerror}") from None
    try:
        try:
            async with asyncio.timeout(within):
                await _acquire(fd)
        except TimeoutError:
            raise WorkdirFailed(
                f"the repository's worktrees stayed locked for {within:g} s "
                f"({LOCK_NAME} is held by another git operation)"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the only descriptor of this open releases the lock


async def _acquire(fd: int) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await asyncio.sleep(_POLL)
