"""Where the fs store's bytes go: the seam between the store and the kernel's write calls.

Every byte the store writes to a file, and every file fsync, goes through a
:class:`Disk`. :class:`OsDisk` is the real one; a test passes a disk that
refuses writes the way a full filesystem does (``yoi.testing.disk``) to see
the store fail with a typed error and recover once space is back.
"""

from __future__ import annotations

import errno
import os
from typing import Protocol

from yoi.errors import StoreError, StoreFull

__all__ = ["Disk", "OsDisk", "store_failure", "write_all"]

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class Disk(Protocol):
    def write(self, fd: int, data: memoryview, offset: int) -> int:
        """Write at ``offset`` as ``os.pwrite`` does: it may write less than asked."""
        ...

    def fsync(self, fd: int) -> None: ...


class OsDisk:
    def write(self, fd: int, data: memoryview, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)


def write_all(disk: Disk, fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset``, then fsync."""
    view = memoryview(data)
    while view:
        written = disk.write(fd, view, offset)
        view, offset = view[written:], offset + written
    disk.fsync(fd)


def store_failure(error: OSError, doing: str) -> StoreError:
    """The error for an OS error: ``store_full`` when there is no room, else ``store_error``.

    The message carries the reason but never the path, which may say where secrets live.
    """
    reason = error.strerror or type(error).__name__
    if error.errno in _FULL:
        return StoreFull(f"{doing}: {reason}; it works again once space is freed")
    return StoreError(f"{doing}: {reason}")
