"""The store lock: an exclusive ``flock`` on ``.yoi/tickets/.ticket-backend.lock``.

Every change to the store runs under it, whoever makes it: the CLI, the
backend, a person's script. A writer that finds it held waits a short,
bounded time (the holder's change takes milliseconds) and then gives up with
``store_locked``. ``flock`` offers no timed wait, so the wait polls with a
growing pause; locks taken through separate opens exclude each other within
one process too.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from yoi.errors import StoreLocked

__all__ = ["LOCK_NAME", "store_lock"]

LOCK_NAME = ".ticket-backend.lock"
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05


@contextmanager
def store_lock(root: Path, *, wait: float) -> Iterator[None]:
    descriptor = os.open(
        root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
    )
    try:
        _acquire(descriptor, wait)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _acquire(descriptor: int, wait: float) -> None:
    deadline = time.monotonic() + wait
    pause = _FIRST_PAUSE
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            raise StoreLocked(
                f"another writer held the ticket store lock for more than {wait:g} s; try again",
                details={"waited_seconds": wait},
            )
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)
