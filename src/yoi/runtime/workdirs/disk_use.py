"""How much disk a worktree takes, measured without following a link anywhere.

Directories are opened relative to their parent's descriptor with ``O_NOFOLLOW``, so a
worker that swaps a directory for a link while the walk runs makes it skip that entry,
never count something outside. The walk stops at a bound of entries and depth, and says
whether it saw everything.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DiskUse", "measure"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class DiskUse:
    bytes: int
    complete: bool


def measure(root: Path, *, max_entries: int = 200_000, max_depth: int = 64) -> DiskUse:
    """The bytes allocated to ``root``'s files (each inode once); ``complete`` is false when
    a bound was reached or something could not be read."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError:
        return DiskUse(0, False)
    walk = _Walk(max_entries, max_depth)
    walk.directory(fd, 0)
    return DiskUse(walk.total, walk.complete)


class _Walk:
    def __init__(self, max_entries: int, max_depth: int) -> None:
        self.total = 0
        self.complete = True
        self._left = max_entries
        self._max_depth = max_depth
        self._seen: set[tuple[int, int]] = set()

    def directory(self, fd: int, depth: int) -> None:
        """Count the directory ``fd`` (closed here) and all below it."""
        try:
            self._count(os.fstat(fd))
            with os.scandir(fd) as entries:
                for entry in entries:
                    self._entry(fd, entry, depth)
        except OSError:
            self.complete = False
        finally:
            os.close(fd)

    def _entry(self, parent: int, entry: os.DirEntry[str], depth: int) -> None:
        if self._left <= 0:
            self.complete = False
            return
        self._left -= 1
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            self._count(info)
        elif depth >= self._max_depth:
            self.complete = False
        else:
            try:
                child = os.open(entry.name, _DIR_FLAGS, dir_fd=parent)
            except OSError:
                self.complete = False
                return
            self.directory(child, depth + 1)

    def _count(self, info: os.stat_result) -> None:
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in self._seen:
                return
            self._seen.add(key)
        self.total += info.st_blocks * 512
