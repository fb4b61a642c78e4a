"""Crash-safe file primitives: atomic snapshots, directory fsync, the root lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from yoi.errors import StoreError, StoreLocked
from yoi.runtime.stores.fs.disk import Disk, write_all

__all__ = ["RootLock", "fsync_dir", "write_atomic"]


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (a created, renamed or removed file) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, disk: Disk) -> None:
    """Replace ``path`` with ``data``: write a temporary file, fsync it, rename, fsync the dir.

    A failed write removes its temporary file, so a full disk is not kept full by it.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(disk, fd, data, 0)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    finally:
        os.close(fd)
    os.replace(temporary, path)
    fsync_dir(path.parent)


class RootLock:
    """An exclusive lock on a store root, held for as long as the store is open.

    ``flock`` locks belong to the open file, so the kernel releases them when
    the process dies, however it dies: a crashed runtime never leaves its root
    locked.
    """

    def __init__(
        self,
        root: Path,
        *,
        name: str = ".lock",
        busy: str = (
            "the store root is in use by another runtime process; "
            "stop it first or choose another store root"
        ),
    ) -> None:
        """Lock ``root/name``; ``busy`` is the message of the ``store_locked`` error when
        another process holds it."""
        self._path = root / name
        self._busy = busy
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(self._busy) from None
        except OSError as error:
            os.close(fd)
            raise StoreError(f"cannot lock the store root: {error.strerror}") from error
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
