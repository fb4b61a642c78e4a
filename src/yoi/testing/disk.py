"""A disk that fills up: the fs store's :class:`~yoi.runtime.stores.fs.Disk` seam, for tests.

It writes through to the real files until its ``room`` runs out. Then, as a
full filesystem does, a write takes what still fits (a short write) and the
next one fails with ``ENOSPC`` (or the ``errno`` it was given). Setting
``room`` back to ``None`` frees the space.
"""

from __future__ import annotations

import errno as errnos
import os

__all__ = ["FullDisk"]


class FullDisk:
    def __init__(self, *, room: int | None = None, errno: int = errnos.ENOSPC) -> None:
        self.room = room
        """Bytes the disk still takes; ``None`` for no limit."""
        self.errno = errno
        self.refused = 0
        """How many writes were refused."""

    def write(self, fd: int, data: memoryview, offset: int) -> int:
        if self.room is None:
            return os.pwrite(fd, data, offset)
        if self.room == 0:
            self.refused += 1
            raise OSError(self.errno, os.strerror(self.errno))
        written = os.pwrite(fd, data[: self.room], offset)
        self.room -= written
        return written

    def fsync(self, fd: int) -> None:
        os.fsync(fd)
