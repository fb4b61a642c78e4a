"""A disk that fills up: the fs store's :class:`~yoi.runtime.stores.fs.Disk` seam, for tests.

It writes through to the real files until its ``room`` runs out. Then, as a
full filesystem does, a write takes what still fits (a short write) and the
next one fails with ``ENOSPC`` (or the ``errno`` it was given). Setting
``room`` back to ``None`` frees the space.
"""

from __future__ import annotations

import errno as errnos
import os
import threading

__all__ = ["FullDisk"]


class FullDisk:
    def __init__(self, *, room: int | None = None, errno: int = errnos.ENOSPC) -> None:
        self._lock = threading.Lock()  # the store writes from worker threads
        self._room = room
        self.errno = errno
        self.refused = 0
        """How many writes were refused."""

    @property
    def room(self) -> int | None:
        """Bytes the disk still takes; ``None`` for no limit."""
        return self._room

    @room.setter
    def room(self, room: int | None) -> None:
        with self._lock:
            self._room = room

    def write(self, fd: int, data: memoryview, offset: int) -> int:
        with self._lock:
            room = self._room
            if room == 0:
                self.refused += 1
                raise OSError(self.errno, os.strerror(self.errno))
            if room is not None:
                data = data[:room]
            written = os.pwrite(fd, data, offset)
            if room is not None:
                self._room = room - written
            return written

    def fsync(self, fd: int) -> None:
        os.fsync(fd)
